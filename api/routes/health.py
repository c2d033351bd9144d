"""``/healthz`` (the process answers), ``/readyz`` (model, database, store, broker) and
``/metrics`` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from anyseek.api.deps import AppState, State
from anyseek.api.schemas import Check, Health, Readiness
from anyseek.db.migrate import require_current

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Liveness: answers as long as the process runs."""
    return Health(status="ok")


def _database(state: AppState) -> Check:
    try:
        require_current(state.database)
    except Exception as exc:  # any failure is "not ready", with its reason
        return Check(ready=False, detail=str(exc).splitlines()[0][:300])
    return Check(ready=True)


def _store(state: AppState) -> Check:
    if state.searcher is None:
        return Check(ready=False, detail="not opened yet")
    try:
        health = state.searcher.store.health()
    except Exception as exc:
        return Check(ready=False, detail=str(exc)[:300])
    return Check(ready=health.ready, detail=health.detail or health.backend)


def _broker(state: AppState) -> Check:
    if state.broker_check is None:
        return Check(ready=True, detail="no broker configured: indexing runs in-process")
    try:
        state.broker_check()
    except Exception as exc:
        return Check(ready=False, detail=str(exc)[:300])
    return Check(ready=True)


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "not ready; see the failing check"}},
)
def readyz(state: State) -> Response:
    """Readiness: the model is loaded and the database, store (and broker) answer."""
    model = Check(ready=state.searcher is not None)
    if state.searcher is not None:
        model.detail = f"{state.searcher.model.name}@{state.searcher.model.version}"
    checks = {"model": model, "database": _database(state), "store": _store(state)}
    if state.settings.broker_url:
        checks["broker"] = _broker(state)
    body = Readiness(ready=all(c.ready for c in checks.values()), checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(state: State) -> Response:
    """Prometheus metrics: request latency per route, search stages, batch sizes, items, jobs."""
    return state.metrics.render()
