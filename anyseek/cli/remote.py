"""``anyseek search`` through a running server: the query as the API's JSON body, the answer back
as :class:`anyseek.search.query.SearchResults`, so the command prints the same either way.

A server has the model loaded, so a search through it takes milliseconds where loading the model
takes seconds. When nothing listens at the URL the command loads the model itself instead.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from anyseek.errors import AnyseekError, SettingsError

CONNECT_TIMEOUT_S = 0.5  # nothing listening answers at once; a busy server gets the read time
READ_TIMEOUT_S = 60.0


class NoServer(AnyseekError):
    """Nothing answers at the server URL (the caller searches in-process instead)."""


def _part(modality: str, value: object, weight: float) -> dict[str, Any]:
    """One query part as the JSON API takes it: text, base64 file bytes or a JSON value."""
    body: dict[str, Any] = {"modality": modality, "weight": weight}
    if isinstance(value, Path):
        try:
            body["data"] = base64.b64encode(value.read_bytes()).decode()
        except FileNotFoundError:
            raise SettingsError(f"{modality} file not found: {value}") from None
        except OSError as exc:
            raise SettingsError(f"--{modality} {value}: {exc.strerror or exc}") from None
    elif isinstance(value, str):
        body["text"] = value
    else:
        body["value"] = value
    return body


def request_body(query: Any, spec: Any = None) -> dict[str, Any]:
    """A :class:`anyseek.search.query.SearchQuery` as the JSON body of ``POST .../search``,
    filtered by
    ``spec`` (a :class:`anyseek.search.fields.FilterSpec`: field names, which the server
    resolves)."""
    body: dict[str, Any] = {
        "parts": [_part(p.modality, p.value, p.weight) for p in query.parts],
        "like": [{"id": i.id, "weight": i.weight} for i in query.like],
        "k": query.k,
        "offset": query.offset,
        "explain": query.explain,
    }
    optional = {
        "spaces": dict(query.spaces) if query.spaces else None,
        "cursor": query.cursor,
        "min_score": query.min_score,
        "min_relevance": query.min_relevance,
        "fusion": query.fusion,
        "combine": query.combine,
        "filter": _filter(spec),
    }
    return body | {k: v for k, v in optional.items() if v is not None}


def _bounds(lower: Any, upper: Any) -> dict[str, Any]:
    """One range as the API's JSON: ``gte``/``lte``, or ``gt``/``lt`` for a strict bound."""
    from anyseek.search.fields import Strict

    found = {}
    for bound, inclusive, strict in ((lower, "gte", "gt"), (upper, "lte", "lt")):
        if isinstance(bound, Strict):
            found[strict] = bound.value
        elif bound is not None:
            found[inclusive] = bound
    return found


def _filter(spec: Any) -> dict[str, Any] | None:
    """A filter by field names as the API's JSON ``filter`` object."""
    if not spec:
        return None
    ranges = {k: _bounds(lower, upper) for k, (lower, upper) in spec.ranges.items()}
    return {
        "equals": dict(spec.equals),
        "any_of": {k: list(v) for k, v in spec.any_of.items()},
        "ranges": ranges,
        "exists": list(spec.exists),
    }


def results_of(data: dict[str, Any]) -> Any:
    """The API's JSON answer as :class:`anyseek.search.query.SearchResults`."""
    from anyseek.search.query import (
        Explanation,
        SearchHitResult,
        SearchResults,
        SpaceExplanation,
        SpaceScore,
    )

    hits = tuple(
        SearchHitResult(
            id=h["id"],
            score=h["score"],
            payload=h["payload"],
            spaces={s: SpaceScore(v["score"], v["rank"]) for s, v in h["spaces"].items()},
            relevance=h.get("relevance"),
        )
        for h in data["hits"]
    )
    explained = data.get("explanation")
    explanation = None
    if explained:
        spaces = {s: SpaceExplanation(**v) for s, v in explained.pop("spaces").items()}
        explanation = Explanation(spaces=spaces, **explained)
    return SearchResults(
        hits=hits,
        collection=data["collection"],
        offset=data["offset"],
        next_cursor=data.get("next_cursor"),
        explanation=explanation,
        model=data.get("model", {}),
        timings_ms=data.get("timings_ms", {}),
        warnings=tuple(data.get("warnings", ())),
        relevance_note=data.get("relevance_note"),
    )


def search_remote(url: str, query: Any, spec: Any = None, api_key: str | None = None) -> Any:
    """Ask the server at ``url``; :class:`NoServer` when nothing answers there, the server's
    own message (one line) when it refuses the query."""
    import httpx

    headers = {"X-API-Key": api_key} if api_key else {}
    path = f"{url}/v1/collections/{query.collection}/search"
    timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    try:
        response = httpx.post(
            path, json=request_body(query, spec), headers=headers, timeout=timeout
        )
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise NoServer(f"no server at {url} ({exc})") from None
    if response.status_code >= 400:
        raise SettingsError(f"the server at {url} refused the search: {refused_detail(response)}")
    return results_of(response.json())


def refused_detail(response: Any) -> str:
    """What a server's error answer says: its problem detail, else its body as text."""
    try:
        return response.json().get("detail") or response.text
    except ValueError:
        return response.text
