"""The event server's plain HTTP answers: the dashboard's files and small text or JSON
responses (built here, sent by the WebSocket library in place of a handshake).

The dashboard is a flat folder (``scanner/web/``, package data). The files it serves are
listed once, when the server starts: a name that was not a file of a known type in that
folder then is never served (no path is ever built from what a client asks).
"""

from __future__ import annotations

import email.utils
import http
from pathlib import Path

from websockets.datastructures import Headers
from websockets.http11 import Response

WEB_DIR = Path(__file__).resolve().parent / "web"
"""The dashboard's files, shipped with the package."""

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
BEARER = (("WWW-Authenticate", "Bearer"),)
"""The header of a 401 answer: the token goes in ``Authorization: Bearer``."""


def response(
    status: int, body: bytes, content_type: str, extra: tuple[tuple[str, str], ...] = ()
) -> Response:
    """A complete HTTP response; the connection closes after it."""
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Length", str(len(body))),
            ("Content-Type", content_type),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            *extra,
        ]
    )
    return Response(status, http.HTTPStatus(status).phrase, headers, body)


def text(status: int, message: str, extra: tuple[tuple[str, str], ...] = ()) -> Response:
    """A one-line plain text response."""
    return response(status, f"{message}\n".encode(), TEXT, extra)


class WebFiles:
    """The dashboard's files: ``/`` is ``index.html``, ``/NAME`` the file NAME of the folder."""

    def __init__(self, folder: Path = WEB_DIR) -> None:
        self.folder = folder
        self.types = {
            p.name: CONTENT_TYPES[p.suffix]
            for p in sorted(folder.iterdir())
            if p.suffix in CONTENT_TYPES and p.is_file()
        }
        """Content type by file name: the files served."""

    def get(self, path: str) -> Response:
        """The response to ``GET path`` (without its query string)."""
        name = "index.html" if path == "/" else path[1:]
        content_type = self.types.get(name)
        if content_type is None:
            return text(404, "not found")
        try:
            body = (self.folder / name).read_bytes()
        except OSError:  # removed since start-up
            return text(404, "not found")
        return response(200, body, content_type)
