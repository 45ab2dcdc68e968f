"""The server's gate: the launch token, its cookie, the Host and Origin headers, safe static paths
and the security headers of every answer.

Every HTTP request and WebSocket must carry the per-launch token, either as the cookie
``tg_token_<port>`` (set, ``HttpOnly; SameSite=Strict``, on a request that brought the token in
its query; the port in its name, so servers on other ports neither read nor overwrite it as
theirs) or as ``?token=``. A WebSocket must also come from the server's own origin
(``Origin`` equal to ``http://`` + the ``Host`` header), which stops other web sites from
driving a session with the user's cookie. When the server knows its port, the ``Host``
header must name that port and a host that cannot be rebound by DNS (localhost, an IP
address, or the host it was bound to): a DNS rebinding page is refused before the token is
even looked at. Every answer carries a Content-Security-Policy (own scripts only; no
framing: ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``), ``nosniff``, no
referrer and no caching. Refusals: HTTP 403 (400 for a bad Host) with one line of text, or
a WebSocket closed with code 4403 before it is accepted.

Example:
    >>> origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000")
    True
    >>> origin_allowed("http://evil.example", "127.0.0.1:8000"), origin_allowed(None, "127.0.0.1:8000")
    (False, False)
    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    >>> host_allowed("127.0.0.1:8000", 8000), host_allowed("localhost:8000", 8000), host_allowed("evil.example:8000", 8000)
    (True, True, False)
    >>> host_allowed("127.0.0.1:8001", 8000), cookie_name(8000)
    (False, 'tg_token_8000')
"""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path
from typing import Any, Awaitable, Callable

from starlette.requests import HTTPConnection

from torchground.i18n import t

__all__ = [
    "COOKIE_NAME", "WS_FORBIDDEN", "TokenGuard", "token_matches", "origin_allowed", "is_loopback",
    "resolve_static", "new_token", "host_allowed", "cookie_name", "CSP",
]

COOKIE_NAME = "tg_token"
#: WebSocket close code for a missing/wrong token or a foreign Origin.
WS_FORBIDDEN = 4403
# Sent with every HTTP answer: no MIME sniffing, and the token-bearing URL never leaks as a Referer.
#: The page's Content-Security-Policy: its own scripts only (no inline script, no eval), no plugins, no framing.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"), (b"cache-control", b"no-store"),
            (b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY")]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def new_token() -> str:
    """A fresh per-launch token (``secrets.token_urlsafe``)."""
    return secrets.token_urlsafe(24)


def token_matches(given: str | None, token: str) -> bool:
    """Constant-time comparison of a presented token with the launch token."""
    return given is not None and secrets.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8"))


def origin_allowed(origin: str | None, host: str | None) -> bool:
    """Whether ``origin`` is the server's own: ``http://<Host header>`` (case-insensitive)."""
    if not origin or not host:
        return False
    return origin.strip().lower() == f"http://{host.strip().lower()}"


def cookie_name(port: int | None) -> str:
    """The token cookie's name: ``tg_token_<port>`` (``tg_token`` when the port is unknown)."""
    return COOKIE_NAME if port is None else f"{COOKIE_NAME}_{port}"


def host_allowed(host: str | None, port: int, bound: str | None = None) -> bool:
    """Whether a ``Host`` header names this server: port ``port``, and as host ``localhost``,
    an IP address (which DNS cannot rebind) or the host the server was bound to."""
    if not host:
        return False
    name, sep, given = host.strip().lower().rpartition(":")
    if not sep or not given.isdigit() or int(given) != port or not name:
        return False
    if name == "localhost" or (bound is not None and name == bound.strip().lower()):
        return True
    try:
        ipaddress.ip_address(name[1:-1] if name.startswith("[") and name.endswith("]") else name)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_static(root: Path, rel: str) -> Path | None:
    """The file ``rel`` inside ``root``, or ``None`` if it is not a plain file there.

    Refuses absolute paths, ``..`` and ``.`` parts, hidden names, backslashes and NUL, and
    anything whose real path (after symbolic links) leaves ``root``.
    """
    if not rel or len(rel) > 512 or "\\" in rel or "\x00" in rel or rel.startswith("/"):
        return None
    parts = rel.split("/")
    if any(not p or p.startswith(".") for p in parts):
        return None
    try:
        base = root.resolve(strict=True)
        path = (base / rel).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return path if path.is_relative_to(base) and path.is_file() else None


class TokenGuard:
    """ASGI middleware: token on every request, own Origin on WebSockets, safety headers.

    Args:
        app: the wrapped ASGI application.
        token: the launch token.
        lang: language of the 403 text.
        port: the port the server listens on: checked in every ``Host`` header, and part of
            the cookie's name (``None``, as for an in-process test client: neither).
        bound: the host the server was bound to (also allowed as ``Host``).
    """

    def __init__(self, app: Any, token: str, lang: str = "en", port: int | None = None, bound: str | None = None) -> None:
        self.app, self.token, self.lang = app, token, lang
        self.port, self.bound, self.cookie = port, bound, cookie_name(port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        if self.port is not None and not host_allowed(conn.headers.get("host"), self.port, self.bound):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": WS_FORBIDDEN, "reason": ""})
            else:
                await _forbidden(send, t("safety.bad_host", self.lang), status=400)
            return
        from_query = token_matches(conn.query_params.get("token"), self.token)
        allowed = from_query or token_matches(conn.cookies.get(self.cookie), self.token)
        if scope["type"] == "websocket":
            if not allowed or not origin_allowed(conn.headers.get("origin"), conn.headers.get("host")):
                await send({"type": "websocket.close", "code": WS_FORBIDDEN, "reason": ""})
                return
            await self.app(scope, receive, send)
            return
        if not allowed:
            await _forbidden(send, t("server.forbidden", self.lang))
            return
        await self.app(scope, receive, self._with_headers(send, set_cookie=from_query))

    def _with_headers(self, send: Send, set_cookie: bool) -> Send:
        cookie = f"{self.cookie}={self.token}; HttpOnly; SameSite=Strict; Path=/".encode("latin-1")

        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() not in {k for k, _ in _HEADERS}]
                headers += _HEADERS
                if set_cookie:
                    headers.append((b"set-cookie", cookie))
                message = {**message, "headers": headers}
            await send(message)

        return wrapped


async def _forbidden(send: Send, text: str, status: int = 403) -> None:
    body = (text + "\n").encode("utf-8")
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()), *_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
