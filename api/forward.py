"""Writes of a reader process sent on to the writer: ``anyseek serve --workers N`` runs one writer
(the store's one writing process, the job runner) and N-1 readers on the same port; a reader
answers reads and searches itself and forwards every write route's request to the writer's
private loopback address, streaming the body both ways.

Which requests write is the routes' own declaration (``dependencies=[WRITE]``), matched here
against each request that is not a GET, HEAD or OPTIONS, so a new write route is forwarded with
no edit here. A forwarded response carries :data:`FORWARDED_HEADER`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

import httpx
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from anyseek.api.errors import problem

FORWARDED_HEADER = "x-anyseek-forwarded"  # on a reader's answer that the writer gave
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
KNOWN_PATHS = 4096  # (method, path) answers remembered; paths past it are matched each time
HOP_BY_HOP = frozenset(  # one connection's own headers (RFC 9110 7.6.1), never passed on (Host
    # and Content-Length are: the writer answers for the address asked, and limits the body)
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)


class WriteForwarder:
    """ASGI middleware of a reader: requests matching a write route go to ``writer_url``."""

    def __init__(
        self,
        app: ASGIApp,
        writer_url: str,
        write_routes: Iterable[BaseRoute],
    ) -> None:
        self.app = app
        self.writer_url = writer_url.rstrip("/")
        self.write_routes = tuple(write_routes)
        self._client: httpx.AsyncClient | None = None
        self._known: dict[tuple[str, str], bool] = {}  # (method, path) -> writes; searches repeat

    def _writes(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] in READ_METHODS:
            return False
        key = (scope["method"], scope["path"])
        found = self._known.get(key)
        if found is None:
            found = any(route.matches(scope)[0] == Match.FULL for route in self.write_routes)
            if len(self._known) < KNOWN_PATHS:
                self._known[key] = found
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
        elif self._writes(scope):
            await self._forward(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app's lifespan, with this middleware's client closed once it ends."""
        try:
            await self.app(scope, receive, send)
        finally:
            if self._client is not None:
                await self._client.aclose()

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._client is None:  # the writer may take minutes (an upload indexed in-line)
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(600, connect=5), trust_env=False)
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"{self.writer_url}{scope.get('root_path', '')}{scope['path']}"
        headers = [(k, v) for k, v in scope["headers"] if k not in HOP_BY_HOP]
        client = scope.get("client")
        if client:  # the writer's log and its proxy-headers middleware see who asked
            headers.append((b"x-forwarded-for", client[0].encode()))
            headers.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))
        request = self._client.build_request(
            scope["method"],
            f"{url}?{query}" if query else url,
            headers=headers,
            content=_body(receive),
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:  # problem+json; RetryAfter (outside) adds its header
            detail = f"the writer process of this server does not answer ({type(exc).__name__})"
            await problem(503, detail)(scope, receive, send)
            return
        try:
            kept = [(k, v) for k, v in response.headers.raw if k.lower() not in HOP_BY_HOP]
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [*kept, (FORWARDED_HEADER.encode(), b"writer")],
                }
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    """The request body as it arrives (a large upload is never held whole here)."""
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return
