"""Launch the Gradio page: local-only by default, optional login, no server files exposed."""

from __future__ import annotations

from typing import Any

from ui.uploads import MAX_UPLOAD_BYTES

__all__ = ["parse_auth", "serve"]


def parse_auth(value: str | tuple[str, str] | None) -> tuple[str, str] | None:
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


def serve(qa: Any, host: str = "127.0.0.1", port: int = 7860,
          auth: str | tuple[str, str] | None = None, *, open_browser: bool = False,
          quiet: bool = False, block: bool = True) -> str:
    """Serve `create_app(qa)` on http://host:port and return its local URL.

    `auth` ("user:password") requires a login. Only Gradio's own upload cache is served;
    the index directory is blocked outright. With `block=False` the server runs in a
    background thread (tests, notebooks)."""
    from ui.app import APP_CSS, app_theme, create_app

    credentials = parse_auth(auth)
    if hasattr(qa, "retrieve"):  # load the embedding model now, not on the first question
        qa.retrieve("warm up", k=1)
    demo = create_app(qa)
    demo.queue(default_concurrency_limit=1, max_size=64)
    _, url, _ = demo.launch(
        server_name=host, server_port=port, auth=credentials,
        auth_message="Log in to ask questions about the articles." if credentials else None,
        inbrowser=open_browser, quiet=quiet, share=False, prevent_thread_lock=not block,
        allowed_paths=[], blocked_paths=[str(qa.stats["index_dir"])],
        max_file_size=MAX_UPLOAD_BYTES, ssr_mode=False, mcp_server=False,
        enable_monitoring=False, run_history=False, footer_links=["api"],
        show_error=True, css=APP_CSS, theme=app_theme(),
    )
    return url
