"""Addresses with credentials in them (a store's `postgresql://`, a model server's
`http://`): shown and logged without the password."""

from __future__ import annotations

from urllib.parse import unquote

__all__ = ["mask_password", "redact", "split_credentials"]


def mask_password(url: str) -> tuple[str, str | None]:
    """`url` with its password as `***`, and the password as written (None when it has none).
    The user part ends at the last "@" before the query or fragment ("?application_name=a@b"
    is the query's), so a password holding an unencoded "@" or "/" is masked whole, although
    a URL parser would read such a URL otherwise; with no "@" before them, at the last "@"
    (a password holding an unencoded "?" or "#" is masked whole too)."""
    scheme, separator, rest = url.partition("://")
    if not separator:  # "openai:user:pass:word@host/v1#m": all from the first ":" is masked
        at = url.rfind("@")
        colon = url.find(":", 0, max(at, 0))
        if at < 0 or colon < 0:
            return url, None
        return f"{url[:colon + 1]}***{url[at:]}", url[colon + 1:at]
    query = min((i for i in (rest.find(c) for c in "?#") if i >= 0), default=len(rest))
    at = rest.rfind("@", 0, query)
    at = at if at >= 0 else rest.rfind("@")
    user, colon, password = rest[:max(at, 0)].partition(":")
    if at < 0 or not colon:
        return url, None
    return f"{scheme}://{user}:***{rest[at:]}", password


def redact(text: str, url: str) -> str:
    """`text` without the password of `url`, as written or percent-decoded."""
    password = mask_password(url)[1]
    for form in {password, unquote(password)} if password else ():
        text = text.replace(form, "***")
    return text


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """`url` without its `user:password@`, and the user and password (percent-decoded; None
    when it has none), so that they go in a header and never into a logged address. The user
    part ends at the last "@" before the path, query or fragment (an "@" in those is theirs:
    a password must write its "/", "?" or "#" percent-encoded)."""
    scheme, separator, rest = url.partition("://")
    host_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    at = rest.rfind("@", 0, host_end)
    if not separator or at < 0:
        return url, None
    user, _, password = rest[:at].partition(":")
    return f"{scheme}://{rest[at + 1:]}", (unquote(user), unquote(password))

