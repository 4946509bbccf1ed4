"""A page that answers at once while the chat starts: importing Gradio alone takes seconds
(more on a busy machine), so the port answers with "starting" until the chat takes it over."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["StartingPage"]

#: The page looks once a second whether the chat has taken the port over and then loads it.
#: It asks in the background rather than reloading itself, so that the moment between this
#: server closing and the chat listening never leaves an error page on the screen (a
#: reload that met it would, and so would a proxy's 502 page). Without scripts, it reloads
#: itself every 2 s.
_PAGE = b"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<noscript><meta http-equiv="refresh" content="2"></noscript>
<title>Article QA: starting</title>
<script>(function look(){setTimeout(function(){fetch(location.href,{cache:"no-store"})
.then(function(r){return r.ok?r.text():"qa-starting"}).then(function(t){
if(t.indexOf("qa-starting")<0){location.reload()}else{look()}}).catch(look)},1000)})();
</script>
<style>body{font:1.1rem system-ui,sans-serif;margin:3rem;color:#111827;background:#fff}
@media (prefers-color-scheme: dark){body{color:#f3f4f6;background:#0b0f19}}</style></head>
<body id="qa-starting"><h1>Article QA</h1><p role="status">The chat is starting; this page
reloads by itself.</p></body></html>"""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(_PAGE)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(_PAGE)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the terminal is for the chat's own messages."""


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True  # the chat binds the port as soon as this closes it
    daemon_threads = True


class StartingPage:
    """Serve the "starting" page on host:port in a thread until `close()`. Raises
    `InputError` when the port is taken."""

    def __init__(self, host: str, port: int) -> None:
        from qa.core.errors import InputError

        try:
            self._server = _Server((host, port), _Handler)
        except OSError as exc:
            raise InputError(f"Cannot serve on {host}:{port} ({exc.strerror}): pick another "
                             "with --port.") from None
        threading.Thread(target=self._server.serve_forever, name="qa-starting",
                         daemon=True).start()

    def close(self) -> None:
        """Stop answering and free the port."""
        self._server.shutdown()
        self._server.server_close()
