"""The web page's files, served at "/" beneath the API's routes.

Mounted at "/", the page's ``StaticFiles`` answers every request no route takes in full, so a
route's path asked with another method (``PUT /v1/jobs``) would reach it and get its bare 405.
:class:`Page` answers such a request as the route would: 405 with an ``Allow`` header listing the
methods the path does take (RFC 9110), the page's own ``GET, HEAD`` for any other path.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

READ_METHODS = ("GET", "HEAD")
METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """The methods some route (not a mount) takes at the scope's path, else GET and HEAD;
    asked of each route as Starlette's router asks it, so included routers answer too."""
    taken = [
        method
        for method in METHODS
        if any(
            not isinstance(route, Mount)
            and route.matches({**scope, "method": method})[0] is Match.FULL
            for route in routes
        )
    ]
    return taken or list(READ_METHODS)


class Page(StaticFiles):
    """The page's files; any method but GET or HEAD is a 405 naming the path's methods."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in READ_METHODS:
            allow = ", ".join(allowed_methods(scope["app"].router.routes, scope))
            raise HTTPException(405, headers={"Allow": allow})
        await super().__call__(scope, receive, send)
