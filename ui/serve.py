"""Launch the Gradio page: local-only by default, optional login, bounded requests, no
server files exposed."""

from __future__ import annotations

import stat
import warnings
from pathlib import Path
from typing import Any

from qa.core.errors import ConfigWarning
from qa.core.settings import Settings

__all__ = ["Login", "parse_auth", "read_auth_file", "serve"]

Login = tuple[str, str]


def parse_auth(value: str | Login | None) -> Login | None:
    """`"user:password"` (or a pair) -> `(user, password)`; None or "" -> None."""
    if not value:
        return None
    if isinstance(value, tuple):
        user, password = value
    else:
        user, sep, password = value.partition(":")
        if not sep:
            raise ValueError("auth must look like user:password")
    if not user or not password:
        raise ValueError("auth needs a non-empty user and password (user:password)")
    return user, password


def read_auth_file(path: str | Path) -> list[Login]:
    """The logins in a file: one `user:password` per line; blank lines and lines starting
    with # are skipped. Raises `ValueError` (naming the line, never the password) when a
    line is not a login or there is none; warns when other users may read the file."""
    path = Path(path)
    logins = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            try:
                logins.append(parse_auth(line))
            except ValueError as exc:
                raise ValueError(f"{path}, line {n}: {exc}") from None
    if not logins:
        raise ValueError(f"{path} holds no login: write one user:password per line")
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.warn(f"{path} can be read by other users: chmod 600 {path}", ConfigWarning,
                      stacklevel=2)
    return logins  # type: ignore[return-value]


def serve(qa: Any, host: str = "127.0.0.1", port: int = 7860,
          auth: str | Login | list[Login] | None = None, *, open_browser: bool = False,
          quiet: bool = False, block: bool = True) -> str:
    """Serve `create_app(qa)` on http://host:port and return its local URL.

    `auth` ("user:password", or a list of (user, password)) requires a login; failed logins
    are throttled per client. Request bodies are capped (`qa.settings.max_request_bytes`;
    uploads: `max_file_bytes` per file) before Gradio reads them, and Gradio's cached
    uploads are deleted after 10 minutes. Only that cache is served; the index directory is
    blocked outright. With `block=False` the server runs in a background thread (tests,
    notebooks)."""
    from qa.ui.app import APP_CSS, app_theme, create_app
    from qa.ui.guard import EdgeGuard, EdgeLimits
    from qa.ui.uploads import MAX_UPLOAD_FILES, cached_uploads
    from starlette.middleware import Middleware

    credentials = auth if isinstance(auth, list) else parse_auth(auth)
    settings = getattr(qa, "settings", None) or Settings()
    if hasattr(qa, "retrieve"):  # load the embedding model now, not on the first question
        qa.retrieve("warm up", k=1)
    demo = create_app(qa)
    demo.queue(default_concurrency_limit=1, max_size=64)
    per_event = MAX_UPLOAD_FILES * settings.max_file_bytes
    limits = EdgeLimits(max_body=settings.max_request_bytes,
                        max_upload_body=per_event + 64 * 1024, max_pending_bytes=per_event,
                        max_pending_files=5 * MAX_UPLOAD_FILES)
    guard = Middleware(EdgeGuard, limits=limits,  # type: ignore[arg-type]
                       pending_uploads=lambda: cached_uploads(demo.upload_file_set))
    _, url, _ = demo.launch(
        server_name=host, server_port=port, auth=credentials,
        auth_message="Log in to ask questions about the articles." if credentials else None,
        inbrowser=open_browser, quiet=quiet, share=False, prevent_thread_lock=not block,
        allowed_paths=[], blocked_paths=[str(qa.stats["index_dir"])],
        max_file_size=settings.max_file_bytes, ssr_mode=False, mcp_server=False,
        enable_monitoring=False, run_history=False, footer_links=["api"],
        show_error=True, css=APP_CSS, theme=app_theme(), app_kwargs={"middleware": [guard]},
    )
    return url
