"""
The web server of the web front end: the chat page and its files, and the WebSocket at
C{/ws}, on one port, with the headers that keep other sites out.

The page's files are package data (C{chat/web/static/}), read once when the site is built so
that serving them never blocks the reactor; there is no build step and nothing is loaded from
anywhere else, which the Content Security Policy enforces in the browser.
"""

from __future__ import annotations

import re
from importlib import resources

from twisted.logger import Logger
from twisted.web import server
from twisted.web.pages import notFound
from twisted.web.resource import IResource, Resource
from twisted.web.websocket import WebSocketResource

from chat.web.protocol import WebFactory

CONTENT_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".png": b"image/png",
}

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'{sockets}; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
"""
Scripts and styles only from the page's own files, never inline or from another site; the
WebSocket only to this server (C{'self'} covers C{ws:} and C{wss:} in current browsers; the
named C{ws://HOST} is for older ones).
"""

HTTP_TIMEOUT = 60.0
"""
Seconds an HTTP connection may sit idle before or between requests.
"""

# A Host header that may go into a header value: a name or address and a port, nothing else.
_HOST = re.compile(r"\A[A-Za-z0-9.\-]+(:\d{1,5})?\Z|\A\[[0-9A-Fa-f:.]+\](:\d{1,5})?\Z")


def pageOrigin(request: server.Request) -> str | None:
    """
    The origin of the page C{request} was made from, as its browser would write it: the
    scheme it came over and its C{Host} header; L{None} without a usable C{Host}.
    """
    host = (request.getHeader("host") or "").strip()
    if not _HOST.match(host):
        return None
    scheme = "https" if request.isSecure() else "http"
    return f"{scheme}://{host.lower()}"


class SecureRequest(server.Request):
    """
    A request whose every response, errors included, carries the headers that keep the page
    to itself.
    """

    def process(self) -> None:
        origin = pageOrigin(self)
        sockets = ""
        if origin is not None:
            sockets = " " + origin.replace("http", "ws", 1)
        self.setHeader(b"Content-Security-Policy", CONTENT_SECURITY_POLICY.format(sockets=sockets))
        self.setHeader(b"X-Content-Type-Options", b"nosniff")
        self.setHeader(b"Referrer-Policy", b"no-referrer")
        self.setHeader(b"X-Frame-Options", b"DENY")
        self.setHeader(b"Cross-Origin-Opener-Policy", b"same-origin")
        super().process()


class StaticFile(Resource):
    """
    One of the page's files, held in memory.
    """

    isLeaf = True

    def __init__(self, body: bytes, contentType: bytes) -> None:
        super().__init__()
        self.body = body
        self.contentType = contentType

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"Content-Type", self.contentType)
        request.setHeader(b"Cache-Control", b"no-cache")
        return self.body

    def render_HEAD(self, request: server.Request) -> bytes:
        self.render_GET(request)
        return b""


def staticFiles() -> dict[str, StaticFile]:
    """
    The page's files, by name, read from the package.
    """
    files = {}
    for entry in resources.files("chat.web").joinpath("static").iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in CONTENT_TYPES:
            files[entry.name] = StaticFile(entry.read_bytes(), CONTENT_TYPES[suffix])
    return files


class Folder(Resource):
    """
    Named children only: anything else, the folder itself included, is not found.
    """

    def getChild(self, path: bytes, request: server.Request) -> IResource:
        return notFound()

    def render(self, request: server.Request) -> bytes:
        return notFound().render(request)


class ChatSocket(WebSocketResource):
    """
    The WebSocket at C{/ws}, for pages of the allowed origins only: a browser sends any site's
    page's origin with the request, and a socket opened by another site's page would chat as
    the visitor.  A client that is no browser sends no C{Origin} and is let in: it could
    claim any origin anyway.

    @ivar origins: the origins allowed; empty: the page's own (see L{pageOrigin}).
    """

    log = Logger()

    def __init__(self, factory: WebFactory, origins: tuple[str, ...] = ()) -> None:
        super().__init__(factory)  # type: ignore[arg-type]
        self.origins = frozenset(origin.rstrip("/").lower() for origin in origins)

    def allowed(self, request: server.Request) -> bool:
        origin = request.getHeader("origin")
        if origin is None:
            return True
        origin = origin.strip().lower()
        if self.origins:
            return origin in self.origins or "*" in self.origins
        return origin == pageOrigin(request)

    def render_GET(self, request: server.Request) -> bytes | int:
        if not self.allowed(request):
            self.log.info(
                "Refused a WebSocket from {origin} (not an allowed origin)",
                origin=request.getHeader("origin"),
            )
            request.setResponseCode(403)
            request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
            return b"WebSocket refused: this page's origin is not allowed\n"
        return super().render_GET(request)


class ChatSite(server.Site):
    """
    The page at C{/}, its files at C{/static/}, the WebSocket at C{/ws}.
    """

    requestFactory = SecureRequest  # type: ignore[assignment]
    displayTracebacks = False
    noisy = False

    def __init__(self, factory: WebFactory, origins: tuple[str, ...] = ()) -> None:
        root = Folder()
        files = staticFiles()
        root.putChild(b"", files["index.html"])
        static = Folder()
        for name, file in files.items():
            static.putChild(name.encode("ascii"), file)
        root.putChild(b"static", static)
        root.putChild(b"ws", ChatSocket(factory, origins))
        # The gate's clock, so that the HTTP timeouts run on the same (in tests, a fake) clock.
        # An HTTP connection the gate does not count yet (no WebSocket on it) is closed after
        # a minute without a request, not twelve hours: the page is three small files.
        super().__init__(root, reactor=factory.gate.clock, timeout=HTTP_TIMEOUT)
        self.factory = factory

    def log(self, request: server.Request) -> None:
        """
        No access log line per request: the daemon's log says who connected and why they
        went, as for the other front ends.
        """
