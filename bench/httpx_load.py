"""An ordinary client for the search bench: httpx on asyncio, as an operator would write one.

Each of ``clients`` tasks shares one ``httpx.AsyncClient`` (keep-alive pool) and asks in turn a
caption search as JSON (``/search``) and a sketch search as a multipart upload
(``/search/upload``, the PNG as a file field, the parameters as JSON), until ``seconds`` pass.
Unlike ``bench/http_load.py`` it builds and parses every request and answer with httpx, so it
spends what users' clients spend (a few ms of CPU per request); on a shared machine that CPU
is taken from the server, which is the point: it measures a server as people meet it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass

from bench.http_load import Load


@dataclass(frozen=True)
class Ask:
    """One request as httpx is given it: the path under the collection, and its body."""

    path: str
    json: dict | None = None
    files: dict | None = None
    data: dict | None = None


def mixed_asks(bodies: dict[str, list[dict]]) -> list[Ask]:
    """Captions as JSON and sketches as multipart uploads, alternating (the bench's mix)."""
    asks = []
    for caption, sketch in zip(bodies["caption"], bodies["sketch"], strict=False):
        asks.append(Ask("/search", json=caption))
        png = base64.b64decode(sketch["parts"][0]["data"])
        params = json.dumps({k: v for k, v in sketch.items() if k != "parts"})
        asks.append(
            Ask(
                "/search/upload",
                files={"sketch": ("sketch.png", png, "image/png")},
                data={"params": params},
            )
        )
    return asks


async def run_clients(base: str, asks: list[Ask], clients: int, seconds: float) -> Load:
    """``clients`` tasks on one httpx client asking ``asks`` in turn for ``seconds``."""
    import httpx

    load = Load()
    stop_at = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits, trust_env=False) as c:

        async def client(i: int) -> None:
            j = i
            while time.monotonic() < stop_at:
                ask = asks[j % len(asks)]
                start = time.perf_counter()
                try:
                    answer = await c.post(ask.path, json=ask.json, files=ask.files, data=ask.data)
                    ok = answer.status_code == 200 and "hits" in answer.json()
                except httpx.HTTPError:
                    ok = False
                load.ms.append((time.perf_counter() - start) * 1000)
                load.done += ok
                load.errors += not ok
                j += clients

        await asyncio.gather(*(client(i) for i in range(clients)))
    return load
