"""Launch the Gradio page: local-only by default, optional login, bounded requests, no
server files exposed."""

from __future__ import annotations

import stat
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from qa.core.errors import ConfigWarning, InputError

if TYPE_CHECKING:
    import gradio as gr
    from qa.ui.startup import EngineLoader
    from starlette.middleware import Middleware

    from qa.engine import QA

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
            raise InputError("auth must look like user:password")
    if not user or not password:
        raise InputError("auth needs a non-empty user and password (user:password)")
    return user, password


def read_auth_file(path: str | Path) -> list[Login]:
    """The logins in a file: one `user:password` per line; blank lines and lines starting
    with # are skipped. Raises `InputError` (naming the line, never the password) when a
    line is not a login or there is none; warns when other users may read the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it as UTF-8 text ({exc})") from None
    logins = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            try:
                logins.append(parse_auth(line))
            except InputError as exc:
                raise InputError(f"{path}, line {n}: {exc}") from None
    if not logins:
        raise InputError(f"{path} holds no login: write one user:password per line")
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.warn(f"{path} can be read by other users: chmod 600 {path}", ConfigWarning,
                      stacklevel=2)
    return logins  # type: ignore[return-value]


def serve(engine: QA | EngineLoader, host: str = "127.0.0.1", port: int = 7860,
          auth: str | Login | list[Login] | None = None, *, open_browser: bool = False,
          block: bool = True, announce: Callable[[str], None] | None = None) -> str:
    """Serve `create_app(engine)` on http://host:port and return its local URL.

    `engine` may be an `EngineLoader` not yet started: it starts once the page is up, which
    shows its progress. `auth` ("user:password", or a list of (user, password)) requires a
    login, which lasts `settings.login_seconds`; failed logins are throttled per client.
    Request bodies are capped (`settings.max_request_bytes`; uploads: `max_file_bytes` per
    file) before Gradio reads them, and Gradio's cached uploads are deleted after 10
    minutes. Only that cache is served; the index directory is blocked outright. Gradio
    prints nothing: `announce(url)` is called once the page is up. With `block=False` the
    server runs in a background thread (tests, notebooks); otherwise this returns only when
    stopped, and raises the loader's error (after closing the server) when the engine could
    not be made."""
    from qa.ui.assets import APP_CSS, APP_JS, app_theme
    from qa.ui.guard import LOCAL_HOSTS, ExpiringLogins
    from qa.ui.placeholder import StartingPage
    from qa.ui.startup import EngineLoader

    credentials = auth if isinstance(auth, list) else parse_auth(auth)
    loader = engine if isinstance(engine, EngineLoader) else EngineLoader.loaded(engine)
    starting = StartingPage(host, port)  # answers while Gradio is imported
    # anyone who reaches the page may add articles; removing them is for a logged-in user,
    # or the one user of a server on this machine only
    local = host in LOCAL_HOSTS
    removable = bool(credentials) or local
    # without a login, a server on this machine only answers only to its names: a web page
    # whose name was made to lead here (DNS rebinding) could use it as its visitor can
    hosts = LOCAL_HOSTS if local and not credentials else None
    try:
        demo, guard = _build(loader, removable, hosts)
    finally:
        starting.close()
    settings = loader.settings
    _, url, _ = demo.launch(
        server_name=host, server_port=port, auth=credentials,
        auth_message="Log in to ask questions about the articles." if credentials else None,
        inbrowser=open_browser, quiet=True, share=False, prevent_thread_lock=True,
        allowed_paths=[], blocked_paths=[str(settings.index_dir)],
        max_file_size=settings.max_file_bytes, ssr_mode=False, mcp_server=False,
        enable_monitoring=False, run_history=False, footer_links=["api"],
        show_error=True, css=APP_CSS, js=APP_JS, theme=app_theme(),
        app_kwargs={"middleware": [guard]},
    )
    if credentials:  # Gradio would keep every login for as long as it runs
        demo.server_app.tokens = ExpiringLogins(settings.login_seconds)
    if announce is not None:
        announce(url)
    loader.start()  # after the page is up: loading would slow the start down
    if block:
        if loader.wait() is None and loader.error is not None:
            demo.close()
            raise loader.error
        demo.block_thread()
    return url


def _build(loader: EngineLoader, removable: bool, hosts: frozenset[str] | None
           ) -> tuple[gr.Blocks, Middleware]:
    """The page, queued, and the middleware that caps its requests; `removable`: the page
    lets its users remove uploaded articles; `hosts`: the names it may be addressed by (None:
    any)."""
    from qa.ui.app import create_app
    from qa.ui.guard import EdgeGuard, EdgeLimits
    from qa.ui.uploads import MAX_UPLOAD_FILES, cached_uploads
    from starlette.middleware import Middleware

    settings = loader.settings
    demo = create_app(loader, removable=removable)
    demo.queue(default_concurrency_limit=1, max_size=64)
    per_event = MAX_UPLOAD_FILES * settings.max_file_bytes
    limits = EdgeLimits(max_body=settings.max_request_bytes,
                        max_upload_body=per_event + 64 * 1024, max_pending_bytes=per_event,
                        max_pending_files=5 * MAX_UPLOAD_FILES, hosts=hosts)
    guard = Middleware(EdgeGuard, limits=limits,  # type: ignore[arg-type]
                       pending_uploads=lambda: cached_uploads(demo.upload_file_set))
    return demo, guard
