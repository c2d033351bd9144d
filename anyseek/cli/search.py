"""``anyseek search``: find images in a collection by caption, sketch, depth, segmentation, image
or indexed item, from the shell. A thin layer over ``search.Searcher``: options -> SearchQuery,
SearchResults -> a table or JSON.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from anyseek.cli.context import settings_of
from anyseek.cli.output import echo_table
from anyseek.errors import SettingsError
from anyseek.model.queries import QUERY_KINDS, QueryKind, with_parameter_per_kind


def _pairs(values: list[str], what: str) -> dict[str, float]:
    """``name=number`` options as a dict, refusing malformed ones."""
    out = {}
    for value in values:
        name, sep, number = value.partition("=")
        try:
            out[name.strip()] = float(number) if sep else 1.0
        except ValueError:
            raise SettingsError(f"--{what} {value!r}: expected NAME=NUMBER") from None
    return out


def _timestamp(value: str | None, option: str, end_of_day: bool = False) -> float | None:
    """An ISO date or date-time (UTC unless it says otherwise) as unix seconds; a bare date as
    the end of that day when ``end_of_day`` ("until 2024-05-31" includes the 31st)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise SettingsError(f"{option} {value!r}: expected a date like 2024-05-31") from None
    seconds = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    bare_date = len(value.strip()) == len("2024-05-31")
    return seconds + 86_399.999 if end_of_day and bare_date else seconds


def _filter(
    folder: str | None,
    ext: list[str],
    min_bytes: int | None,
    max_bytes: int | None,
    since: str | None,
    until: str | None,
    where: list[str],
):
    """The filter by field names the options ask for (``--where`` included)."""
    from anyseek.search.fields import FilterSpec

    ranges: dict = {}
    if min_bytes is not None or max_bytes is not None:
        ranges["bytes"] = (min_bytes, max_bytes)
    start, end = _timestamp(since, "--since"), _timestamp(until, "--until", end_of_day=True)
    if start is not None or end is not None:
        ranges["mtime"] = (start, end)
    equals: dict = {"folder": folder} if folder else {}
    any_of: dict = {"ext": [e.lower().lstrip(".") for e in ext]} if ext else {}
    exists: list[str] = []
    for condition in where:
        _where(condition, equals, any_of, ranges, exists)
    return FilterSpec(equals=equals, any_of=any_of, ranges=ranges, exists=exists)


WHERE = re.compile(r"^\s*(?P<name>[^<>=!~\s]+)\s*(?:(?P<op>[<>=!~]+)(?P<value>.*))?$")
"""One ``--where``: a field name, then an operator and a value, or nothing."""
WHERE_FORMS = "field=value, field=a|b, field<=x, field>=x, field<x, field>x or a bare field name"


def _where(condition: str, equals: dict, any_of: dict, ranges: dict, exists: list) -> None:
    """One ``--where``: ``f=v``, ``f=a|b`` (any of), ``f<=x``, ``f>=x``, ``f<x``, ``f>x`` or a
    bare ``f`` (has a value); values typed as in a metadata CSV (true/false, numbers, text, ISO
    dates: a date without a time is its whole day). Another operator (``==``, ``!=``) is refused
    by name rather than read as part of a field name."""
    from anyseek.indexer.metadata import csv_value
    from anyseek.search.fields import Strict

    found = WHERE.match(condition)
    if found is None or (found["op"] and not found["value"].strip()):
        raise SettingsError(f"--where {condition!r}: expected {WHERE_FORMS}")
    name, op, value = found["name"], found["op"], found["value"]
    if op is None:
        exists.append(name)
    elif op not in ("=", "<=", ">=", "<", ">"):
        raise SettingsError(
            f"--where {condition!r}: unknown operator {op!r} after {name!r}; expected {WHERE_FORMS}"
        )
    elif op == "=":
        values = [csv_value(v) for v in value.split("|")]
        if len(values) > 1:
            any_of[name] = values
        else:
            equals[name] = values[0]
    else:
        lower, upper = ranges.get(name, (None, None))
        bound = csv_value(value) if "=" in op else Strict(csv_value(value))
        ranges[name] = (bound, upper) if op.startswith(">") else (lower, bound)


def _resolve(settings, collection: str, spec):
    """The store filter of ``spec`` with the collection's metadata fields, or None."""
    if not spec:
        return None
    from anyseek.db import repository
    from anyseek.db.migrate import session_for
    from anyseek.search.fields import resolve_filter

    with session_for(settings) as session:
        owner = repository.get_collection(session, collection)
        registry = repository.field_registry(session, owner.id)
    return resolve_filter(spec, registry)


def _query_option(kind: QueryKind) -> inspect.Parameter:
    """The ``anyseek search`` option of one declared query modality (a path, text or JSON)."""
    text = kind.help + (f", e.g. '{kind.example}'" if kind.value == "structured" else "")
    return inspect.Parameter(
        kind.name,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,  # listed among the others; typer passes names
        default=typer.Option(None, kind.cli_option, help=text[0].upper() + text[1:] + "."),
        annotation=Path | None if kind.value == "file" else str | None,
    )


def with_query_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` (which takes ``ctx``, ``collection`` and ``**parts``) one option per
    declared query modality, listed right after the collection."""
    return with_parameter_per_kind(command, _query_option, at=2)


def _query_values(options: dict[str, Any]) -> dict[str, object]:
    """The query options given, JSON ones parsed (naming the option that is not JSON)."""
    out: dict[str, object] = {}
    for name, value in options.items():
        kind = QUERY_KINDS[name]
        if value is None:
            continue
        if kind.value != "structured":
            out[name] = value
            continue
        try:
            out[name] = json.loads(value)
        except ValueError as exc:
            raise SettingsError(f"{kind.cli_option} is not valid JSON ({exc})") from None
    return out


@with_query_options
def search(
    ctx: typer.Context,
    collection: str = typer.Option(..., "--collection", "-c", help="Collection to search."),
    like: list[str] = typer.Option(
        [],
        "--like",
        metavar="ID[=W]",
        help="Indexed item id to search like; ID=-0.5 for 'not like this'.",
    ),
    weight: list[str] = typer.Option(
        [],
        "--weight",
        metavar="MODALITY=W",
        help="MODALITY=W, e.g. sketch=0.5 or depth=-1 (default 1).",
    ),
    space: list[str] = typer.Option(
        [], "--space", metavar="NAME[=W]", help="Only these spaces: NAME or NAME=W."
    ),
    k: int = typer.Option(10, "--k", help="How many results (at most ANYSEEK_SEARCH__MAX_K)."),
    offset: int = typer.Option(
        0, "--offset", help="Skip this many results (offset + k: ANYSEEK_SEARCH__MAX_WINDOW)."
    ),
    cursor: str | None = typer.Option(None, "--cursor", help="next_cursor of a previous page."),
    min_score: float | None = typer.Option(
        None, "--min-score", help="Drop results whose fused score (raw cosines) is lower."
    ),
    min_relevance: float | None = typer.Option(
        None,
        "--min-relevance",
        help="Drop results whose relevance (0-1, any query kind) is lower; models without a "
        "relevance calibration refuse it (use --min-score).",
    ),
    folder: str | None = typer.Option(None, "--folder", help="Only images in this folder."),
    ext: list[str] = typer.Option(
        [], "--ext", metavar="EXT", help="Only these file types (repeatable)."
    ),
    min_bytes: int | None = typer.Option(None, "--min-bytes", help="Smallest file size."),
    max_bytes: int | None = typer.Option(None, "--max-bytes", help="Largest file size."),
    since: str | None = typer.Option(None, "--since", help="Modified on or after (ISO date)."),
    until: str | None = typer.Option(None, "--until", help="Modified on or before (ISO date)."),
    where: list[str] = typer.Option(
        [],
        "--where",
        metavar="CONDITION",
        help="A field condition (repeatable): price<=20, sold=true, tag=red|blue, or a bare "
        "field name (it has a value).",
    ),
    fusion: str | None = typer.Option(None, "--fusion", help="information (default) or rrf."),
    combine: str | None = typer.Option(
        None, "--combine", help="Weighted parts: fusion (default) or guidance."
    ),
    explain: bool = typer.Option(False, "--explain", help="Show space weights and stage times."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    server: str | None = typer.Option(
        None,
        "--server",
        metavar="URL",
        help="Ask this running server (default ANYSEEK_API__URL, else the `anyseek serve` that "
        "serves this data directory, if one runs); with none, the model is loaded here.",
    ),
    local: bool = typer.Option(False, "--local", help="Load the model here; ask no server."),
    **parts: Any,
) -> None:
    """Search a collection by any mix of caption, sketch, depth, segmentation and image."""
    from anyseek.search.query import LikeItem, QueryPart, SearchQuery

    given = _query_values(parts)
    weights = _pairs(weight, "weight")
    stray = sorted(set(weights) - set(given))
    if stray:
        raise SettingsError(f"--weight for {', '.join(stray)}, which the query does not include")
    likes = []
    for item, w in _pairs(like, "like").items():
        if not item.isdigit():
            raise SettingsError(f"--like {item!r}: item ids are whole numbers")
        likes.append(LikeItem(int(item), w))
    query = SearchQuery(
        collection=collection,
        parts=tuple(QueryPart(n, v, weights.get(n, 1.0)) for n, v in given.items()),
        like=tuple(likes),
        spaces=_pairs(space, "space") or None,
        k=k,
        offset=offset,
        cursor=cursor,
        min_score=min_score,
        min_relevance=min_relevance,
        fusion=fusion,
        combine=combine,
        explain=explain,
    )
    settings = settings_of(ctx)
    spec = _filter(folder, ext, min_bytes, max_bytes, since, until, where)
    results, where = (
        (None, "searched here (--local)") if local else _ask_server(settings, server, query, spec)
    )
    if results is None:  # the filter's fields resolved against the collection's registry here
        from anyseek.search.searcher import open_searcher

        query = dataclasses.replace(query, filter=_resolve(settings, collection, spec))
        searcher = open_searcher(settings)
        try:
            results = searcher.search(query)
        finally:
            searcher.close()
    typer.secho(where, err=True, dim=True)  # stderr: stdout stays the results, for pipes
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(results), indent=2, default=str))
        return
    echo_results(results)


def _ask_server(settings: Any, given: str | None, query: Any, spec: Any) -> tuple[Any, str]:
    """The answer of the server to ask, ``query`` filtered by ``spec`` (field names, resolved by
    the server), or None to search here: a URL given (``--server``, ``ANYSEEK_API__URL``), else
    the server that serves this data directory (its note, ``anyseek.cli.server_note``), never
    another;
    with the line saying where the search ran."""
    from anyseek.cli.remote import NoServer, search_remote
    from anyseek.cli.server_note import serving

    url = (given or settings.api.url or "").rstrip("/")
    note = None if url else serving(settings.data_dir)
    if note is None and not url:
        return None, f"searched here: no `anyseek serve` serves {settings.data_dir}"
    url = url or note.url
    keys = settings.api.api_keys
    try:
        found = search_remote(url, query, spec, keys[0].get_secret_value() if keys else None)
    except NoServer:
        typer.secho(
            f"no server at {url}: loading the model here (a running `anyseek serve` answers "
            "in well under a second)",
            err=True,
            fg=typer.colors.YELLOW,
        )
        return None, f"searched here: no server answers at {url}"
    mine = f" (pid {note.pid}), which serves {settings.data_dir}" if note else ""
    return found, f"searched through the server at {url}{mine}"


CAPTION_SHOWN = 60  # characters of a caption item's text in the table


def _caption(payload: dict[str, Any]) -> str | None:
    """A caption item's text as the table shows it, cut to ``CAPTION_SHOWN`` characters."""
    text = payload.get("caption")
    if not isinstance(text, str):
        return None
    return text if len(text) <= CAPTION_SHOWN else text[: CAPTION_SHOWN - 1] + "…"


def echo_results(results) -> None:
    """Results as a table: rank, id, relevance (for a calibrated model), fused score, each
    space's score (rank), the item's modalities and key (its path for an image file), and a
    caption item's text; the answer's note on relevance, when it has one."""
    for warning in results.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if not results.hits:
        typer.echo(f"no results in {results.collection!r}")
    spaces = sorted({s for hit in results.hits for s in hit.spaces})
    calibrated = any(h.relevance is not None for h in results.hits)
    captions = [_caption(hit.payload) for hit in results.hits]
    rows = [
        (
            results.offset + i + 1,
            hit.id,
            *(("-" if hit.relevance is None else f"{hit.relevance:.2f}",) if calibrated else ()),
            f"{hit.score:.4f}",
            *(f"{hit.spaces[s].score:.3f} ({hit.spaces[s].rank})" for s in spaces),
            hit.payload.get("modalities", ["rgb"]),
            hit.payload.get("key", hit.payload.get("path")),
            *((caption,) if any(captions) else ()),
        )
        for i, (hit, caption) in enumerate(zip(results.hits, captions, strict=True))
    ]
    if rows:
        relevance = ("relevance",) if calibrated else ()
        caption_column = ("caption",) if any(captions) else ()
        echo_table(
            ("rank", "id", *relevance, "score", *spaces, "modalities", "key", *caption_column),
            rows,
        )
    if results.relevance_note is not None:
        typer.echo(f"note: {results.relevance_note}")
    if results.next_cursor:
        typer.echo(f"next page: --cursor {results.next_cursor}")
    explanation = results.explanation
    if explanation is not None:
        typer.echo(f"combined: {explanation.combine}; fused by {explanation.fusion}")
        if explanation.imagined is not None:
            typer.echo(f"imagined: {explanation.imagined!r}")
        for name, s in explanation.spaces.items():
            typer.echo(
                f"space {name}: information {s.information:.3f}, weight {s.weight:.3f}, "
                f"{s.candidates} candidates"
            )
        for name, seen in explanation.inputs.items():
            typer.echo(f"input {name}: {json.dumps(seen)}")
        stages = ", ".join(f"{n} {ms:.1f} ms" for n, ms in explanation.timings_ms.items())
        typer.echo(f"{explanation.union} candidates scored; {stages}")


COMMANDS = (search,)
