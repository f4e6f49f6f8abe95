"""Who may use the event server: its token, the browser origins it accepts, how many clients.

* **Token.** When one is set, a WebSocket client presents it as ``Authorization: Bearer
  TOKEN`` or, where it cannot set a header (a browser), as ``?token=TOKEN`` on the ``/ws``
  URL; ``/health`` and ``/metrics`` ask for it too unless exempted. It is compared in
  constant time (the digests of what was given and of the token). Listening anywhere but on
  loopback needs one (checked at start-up by the command line).
* **Origin.** A browser sends ``Origin`` with every WebSocket handshake; it must be the
  server's own (``http://HOST:PORT`` as bound; on loopback also ``localhost``, ``127.0.0.1``
  and ``[::1]``; bound to every address: the ``Host`` the request names) or one configured.
  A client without ``Origin`` (not a browser) is not asked.
* **Clients.** At most ``max_clients`` connected at once; more are refused with HTTP 503.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from urllib.parse import parse_qs

from websockets.http11 import Request


def is_loopback(host: str) -> bool:
    """``host`` (an IP address or ``localhost``) reaches only this machine."""
    return host == "localhost" or ipaddress.ip_address(host).is_loopback


def own_origins(host: str, port: int) -> frozenset[str] | None:
    """The origins of pages served by a server bound to ``host``:``port``; None when bound to
    every address (then the origin naming the request's ``Host`` is its own)."""
    if is_loopback(host):
        names = ["localhost", "127.0.0.1", "[::1]"]
    else:
        ip = ipaddress.ip_address(host)
        if ip.is_unspecified:
            return None
        names = [f"[{ip}]" if ip.version == 6 else str(ip)]
    return frozenset(f"http://{name}:{port}" for name in names)


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _one(request: Request, name: str) -> str | None:
    values = request.headers.get_all(name)
    return values[0] if len(values) == 1 else None


@dataclass(frozen=True, slots=True)
class Access:
    """The event server's access rules (module docstring)."""

    token: str | None = None
    origins: frozenset[str] = frozenset()
    """Browser origins allowed besides the server's own."""
    max_clients: int = 64
    token_exempt: frozenset[str] = frozenset()
    """Of ``/health`` and ``/metrics``, those answered without the token."""

    def token_ok(self, request: Request) -> bool:
        """The request presents the token (or none is set)."""
        if self.token is None:
            return True
        given = None
        authorization = _one(request, "Authorization")
        if authorization is not None:
            scheme, _, value = authorization.partition(" ")
            given = value.strip() if scheme.lower() == "bearer" else None
        if given is None:
            query = request.path.partition("?")[2]
            tokens = parse_qs(query).get("token", [])
            given = tokens[0] if len(tokens) == 1 else None
        return given is not None and hmac.compare_digest(_digest(given), _digest(self.token))

    def origin_ok(self, request: Request, host: str, port: int) -> bool:
        """The request has no ``Origin`` (not a browser), or an allowed one."""
        origins = request.headers.get_all("Origin")
        if not origins:
            return True
        if len(origins) > 1:
            return False
        origin = origins[0].lower().rstrip("/")
        if origin in self.origins:
            return True
        own = own_origins(host, port)
        if own is not None:
            return origin in own
        named = _one(request, "Host")
        if named is None or not named.endswith(f":{port}"):
            return False
        return origin == f"http://{named.lower()}"
