"""Limits at the HTTP edge of `qa serve`, before Gradio reads a request: the size of a
request body, failed logins per client, the uploads waiting in Gradio's cache, and how long
a login lasts."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LOCAL_HOSTS", "UPLOAD_ROUTE", "EdgeGuard", "EdgeLimits", "ExpiringLogins",
           "LoginThrottle"]

#: the names of this machine: what a server listening on it only may be addressed as.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
#: Gradio's file upload route: the one request whose body may be larger (multipart files).
UPLOAD_ROUTE = "/gradio_api/upload"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass
class LoginThrottle:
    """Failed logins per key (a client address, a user name): after `free` of them, each
    attempt under it must wait 2, 4, 8... seconds (at most `max_wait`) after the previous
    one, and is refused (429) sooner, right password or not. A success resets the count; so
    does an hour without attempts. An attempt counts as failed until it succeeds, so parallel
    guesses gain nothing."""

    free: int = 5
    max_wait: float = 300.0
    forget_after: float = 3600.0
    max_clients: int = 10_000
    _failures: dict[str, tuple[int, float]] = field(default_factory=dict)

    def wait(self, client: str, now: float) -> float:
        """Seconds `client` must still wait before its next attempt (0: go ahead)."""
        count, last = self._failures.get(client, (0, 0.0))
        if now - last > self.forget_after:
            self._failures.pop(client, None)
            return 0.0
        if count < self.free:
            return 0.0
        return max(0.0, last + min(2.0 ** (count - self.free + 1), self.max_wait) - now)

    def attempt(self, client: str, now: float) -> None:
        count, _ = self._failures.pop(client, (0, 0.0))  # re-inserted: oldest first
        self._failures[client] = (count + 1, now)
        while len(self._failures) > self.max_clients:
            del self._failures[next(iter(self._failures))]

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)


class ExpiringLogins(dict[str, str]):
    """Gradio's login sessions (cookie token -> user), each forgotten `lifetime` seconds
    after its login, the oldest first beyond `max_sessions`: a copied cookie stops working.
    Gradio keeps them in a plain dict, for as long as the server runs."""

    def __init__(self, lifetime: float, max_sessions: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.lifetime = lifetime
        self.max_sessions = max_sessions
        self._clock = clock
        self._logged_in: dict[str, float] = {}

    def _forget_expired(self) -> None:
        now = self._clock()
        while self._logged_in:
            token, when = next(iter(self._logged_in.items()))  # the oldest login
            if now - when < self.lifetime and len(self._logged_in) <= self.max_sessions:
                break
            del self._logged_in[token]
            super().pop(token, None)

    def __setitem__(self, token: str, user: str) -> None:
        self._logged_in.pop(token, None)
        self._logged_in[token] = self._clock()
        super().__setitem__(token, user)
        self._forget_expired()

    def __getitem__(self, token: str) -> str:
        self._forget_expired()
        return super().__getitem__(token)

    def __contains__(self, token: object) -> bool:
        self._forget_expired()
        return super().__contains__(token)

    def get(self, token: str, default: Any = None) -> Any:  # type: ignore[override]
        self._forget_expired()
        return super().get(token, default)

    def keys(self) -> Any:  # Gradio's "log out everywhere" walks the keys
        self._forget_expired()
        return super().keys()

    def __delitem__(self, token: str) -> None:
        self._logged_in.pop(token, None)
        super().__delitem__(token)


@dataclass(frozen=True)
class EdgeLimits:
    """`max_body`: bytes of any request but an upload; `max_upload_body`: of one upload
    request; `max_pending_bytes`/`max_pending_files`: Gradio's cached uploads not yet
    deleted, beyond which new uploads are refused (507) until the cache is cleaned; `hosts`:
    the names a request may address the server by."""

    max_body: int = 1024 * 1024
    max_upload_body: int = 100 * 1024 * 1024
    max_pending_bytes: int = 100 * 1024 * 1024
    max_pending_files: int = 100
    #: the host names a request's `Host` may give (None: any), e.g. `LOCAL_HOSTS` for a
    #: server on this machine only.
    hosts: frozenset[str] | None = None


class EdgeGuard:
    """ASGI middleware applying `EdgeLimits` and a `LoginThrottle` (Gradio's `/login`).
    `pending_uploads()` returns (bytes, files) of the uploads Gradio holds now."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]],
                 limits: EdgeLimits | None = None, throttle: LoginThrottle | None = None,
                 pending_uploads: Callable[[], tuple[int, int]] | None = None) -> None:
        self.app = app
        self.limits = limits or EdgeLimits()
        self.throttle = throttle or LoginThrottle()
        self.pending_uploads = pending_uploads
        #: (bytes, requests) of uploads admitted and still being received: not in Gradio's
        #: cache yet, but counted against its budget, so parallel uploads cannot pass it.
        self._receiving = (0, 0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not self._host_allowed(scope):
            if scope["type"] == "http":
                await _respond(send, 421, "This server answers only to the names of this "
                               "machine (localhost, 127.0.0.1).")
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"].rstrip("/")
        length = _content_length(scope)
        if path == UPLOAD_ROUTE and scope["method"] == "POST":
            refusal = self._upload_refusal(length)
            if refusal:
                await _respond(send, *refusal)
                return
            size, requests = self._receiving
            self._receiving = (size + length, requests + 1)
            try:  # streamed to disk by Gradio, which caps each file
                await self.app(scope, receive, send)
            finally:
                size, requests = self._receiving
                self._receiving = (size - length, requests - 1)
            return
        if length is not None and length > self.limits.max_body:
            await _respond(send, 413, _too_large(length, self.limits.max_body))
            return
        try:
            body = await _read_body(receive, self.limits.max_body)
        except _ClientGone:
            return
        if body is None:
            await _respond(send, 413, _too_large(None, self.limits.max_body))
            return
        if _names_a_remote_file(body):
            await _respond(send, 400, "Files are uploaded, not fetched: this server does not "
                           "download an address a request names as a file.")
            return
        replay = _replay(body, receive)
        if path.endswith("/login") and scope["method"] == "POST":
            await self._login(scope, body, replay, send)
        else:
            await self.app(scope, replay, send)

    def _host_allowed(self, scope: Scope) -> bool:
        """Whether the request's `Host` names this server as `limits.hosts` allows: a page on
        another site whose name was made to lead here (DNS rebinding) is refused."""
        if self.limits.hosts is None:
            return True
        host = next((value.decode("latin-1") for name, value in scope.get("headers", ())
                     if name == b"host"), "")
        return _host_name(host).lower() in self.limits.hosts

    def _upload_refusal(self, length: int | None) -> tuple[int, str] | None:
        limits = self.limits
        if length is None:
            return 411, "Uploads must state their Content-Length."
        if length > limits.max_upload_body:
            return 413, _too_large(length, limits.max_upload_body)
        if self.pending_uploads is not None:
            size, files = map(sum, zip(self.pending_uploads(), self._receiving))
            if size + length > limits.max_pending_bytes or files >= limits.max_pending_files:
                return 507, ("Too many uploads are waiting to be processed; try again in a "
                             "few minutes.")
        return None

    async def _login(self, scope: Scope, body: bytes, receive: Receive, send: Send) -> None:
        # per address and per user name: an address can be had in many ways (a local proxy's
        # X-Forwarded-For, an IPv6 block), a user's password is guessed under one name
        keys = [(scope.get("client") or ("unknown", 0))[0], f"user:{_login_name(body)}"]
        now = time.monotonic()
        wait = max(self.throttle.wait(key, now) for key in keys)
        if wait > 0:
            seconds = math.ceil(wait)
            await _respond(send, 429, f"Too many failed logins: try again in {seconds} s.",
                           [(b"retry-after", str(seconds).encode())])
            return
        for key in keys:
            self.throttle.attempt(key, now)
        status: list[int] = []

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        if status and status[0] < 300:
            for key in keys:
                self.throttle.succeeded(key)


def _names_a_remote_file(body: bytes) -> bool:
    """Whether a JSON request body holds a file (Gradio's FileData) whose path is a web
    address: Gradio would download it whole, before any size limit or upload budget."""
    if body.lstrip()[:1] not in (b"{", b"["):
        return False
    try:
        stack = [json.loads(body)]
    except (ValueError, RecursionError):  # not JSON: Gradio refuses it on its own
        return False
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            meta, path = item.get("meta"), item.get("path")
            if isinstance(meta, dict) and meta.get("_type") == "gradio.FileData" and \
                    isinstance(path, str) and path.startswith(("http://", "https://")):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _host_name(host: str) -> str:
    """A `Host` header without its port: "[::1]:7860" -> "::1", "localhost:7860" ->
    "localhost"."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _login_name(body: bytes) -> str:
    """The user name a login form gives (URL-encoded or multipart), "" when none."""
    from urllib.parse import parse_qs

    if match := re.search(rb'name="username"\r\n(?:[^\r\n]+\r\n)*\r\n([^\r]*)\r\n', body):
        return match.group(1).decode("utf-8", "replace")
    return parse_qs(body.decode("utf-8", "replace")).get("username", [""])[0]


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(length: int | None, limit: int) -> str:
    size = f" ({length:,} bytes)" if length is not None else ""
    return f"Request too large{size}: at most {limit:,} bytes."


class _ClientGone(Exception):
    """The client disconnected before it had sent its request."""


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _respond(send: Send, status: int, message: str,
                   headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})
