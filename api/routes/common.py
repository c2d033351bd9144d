"""What every router shares: the error responses its routes document."""

from __future__ import annotations

from typing import Any

from api.schemas import Problem

PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the given error statuses, all problem+json."""
    return {status: {**PROBLEM, "description": _WHY.get(status, "error")} for status in statuses}


_WHY = {
    400: "a body that cannot be parsed (malformed JSON or multipart)",
    401: "missing or wrong API key",
    404: "unknown collection, space or item",
    409: "already exists",
    413: "upload too large",
    422: "invalid input; `field` names it",
    503: "model loading or a dependency down",
}
