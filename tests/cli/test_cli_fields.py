"""Your own metadata from the shell: ``anyseek index --metadata`` (CSV and JSONL), ``anyseek
search --where`` in each form, an unknown field as one line, ``anyseek export`` read back, and
``anyseek duplicates`` on a made corpus (scenes and a re-encoded copy of one)."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anyseek.cli import main
from anyseek.scenes import generate_scene

SCENES = 8
SIZE = 128  # as tests/indexer/test_near_duplicates.py: distinct scenes are never linked
COPY = "scene0-copy.jpg"


def _meta(n: int) -> dict[str, object]:
    """Scene n's own fields; odd scenes have a note, the others none."""
    row: dict[str, object] = {
        "price": 5 * n,
        "sold": n % 2 == 0,
        "tags": ["red"] if n % 3 == 0 else (["blue"] if n % 3 == 1 else ["green"]),
        "taken": f"2024-03-{n + 1:02d}",
    }
    if n % 2:
        row["note"] = f"scratch {n}"
    return row


META = {f"scene{n}.png": _meta(n) for n in range(SCENES)}


def _write_metadata(folder: Path) -> tuple[Path, Path]:
    """The same rows as a CSV (typed cells, empty = absent) and as JSON lines."""
    columns = ["path", "price", "sold", "tags", "taken", "note"]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(columns)
    for name, row in META.items():
        cells = {"path": name, **row, "sold": str(row["sold"]).lower()}
        cells["tags"] = json.dumps(row["tags"])
        writer.writerow([cells.get(c, "") for c in columns])
    as_csv = folder / "meta.csv"
    as_csv.write_text(text.getvalue(), encoding="utf-8")
    as_jsonl = folder / "meta.jsonl"
    as_jsonl.write_text("".join(json.dumps({"path": n, **r}) + "\n" for n, r in META.items()))
    return as_csv, as_jsonl


Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of SCENES scene PNGs and a JPEG re-encoding of scene 0, with metadata files
    beside it (outside the folder, so they are not indexed)."""
    root = tmp_path_factory.mktemp("fields")
    images = root / "images"
    images.mkdir()
    for n in range(SCENES):
        rgb = generate_scene(7_300 + n, SIZE).rgb
        Image.fromarray(rgb).save(images / f"scene{n}.png")
        if n == 0:
            Image.fromarray(rgb).save(images / COPY, format="JPEG", quality=70)
    _write_metadata(root)
    return root


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def cli(data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> Cli:
    """``anyseek`` in-process on the module's data directory: (exit code, stdout, stderr)."""
    for key in list(os.environ):
        if key.startswith("ANYSEEK_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANYSEEK_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ANYSEEK_MODEL__DEVICE", "cpu")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture(scope="module")
def indexed(corpus: Path, data_dir: Path) -> dict[str, str]:
    """Collections ``fromcsv`` and ``fromjsonl``: the corpus indexed with each metadata file."""
    env = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("ANYSEEK_")}
    os.environ |= {"ANYSEEK_DATA_DIR": str(data_dir), "ANYSEEK_MODEL__DEVICE": "cpu"}
    try:
        assert main(["db", "upgrade"]) == 0
        for name, meta in (("fromcsv", "meta.csv"), ("fromjsonl", "meta.jsonl")):
            code = main(["index", str(corpus / "images"), "-c", name,
                         "--metadata", str(corpus / meta)])  # fmt: skip
            assert code == 0, name
    finally:
        for key in ("ANYSEEK_DATA_DIR", "ANYSEEK_MODEL__DEVICE"):
            os.environ.pop(key)
        os.environ |= env
    return {"fromcsv": "meta.csv", "fromjsonl": "meta.jsonl"}


def _found(cli: Cli, collection: str, *where: str) -> set[str]:
    """File names of every hit of a caption search with these ``--where`` conditions."""
    args = [a for w in where for a in ("--where", w)]
    code, out, err = cli(
        "search", "-c", collection, "--caption", "a red cube", "--k", "50", "--local", "--json",
        *args,
    )  # fmt: skip
    assert code == 0, err
    return {Path(h["payload"]["path"]).name for h in json.loads(out)["hits"]}


def _names(keep: Callable[[dict], bool]) -> set[str]:
    return {name for name, row in META.items() if keep(row)}


WHERE = [
    (("sold=true",), lambda r: r["sold"]),
    (("sold=false",), lambda r: not r["sold"]),
    (("tags=red|green",), lambda r: r["tags"][0] in ("red", "green")),
    (("price<=15",), lambda r: r["price"] <= 15),
    (("price>=20",), lambda r: r["price"] >= 20),
    (("price>=10", "price<=25", "sold=true"), lambda r: 10 <= r["price"] <= 25 and r["sold"]),
    (("taken>=2024-03-04",), lambda r: r["taken"] >= "2024-03-04"),
    (("note",), lambda r: "note" in r),
]


@pytest.mark.parametrize("collection", ["fromcsv", "fromjsonl"])
@pytest.mark.parametrize(("where", "keep"), WHERE, ids=[" ".join(w) for w, _ in WHERE])
def test_where_forms_select_the_rows_of_the_metadata_file(
    cli: Cli, indexed, collection: str, where: tuple[str, ...], keep
) -> None:
    wanted = _names(keep)
    assert wanted and wanted != set(META)  # each condition keeps some scenes and drops others
    assert _found(cli, collection, *where) == wanted


def test_without_conditions_every_image_is_found(cli: Cli, indexed) -> None:
    assert _found(cli, "fromcsv") == set(META) | {COPY}


def test_unknown_field_is_one_line_listing_the_fields(cli: Cli, indexed) -> None:
    code, _, err = cli("search", "-c", "fromcsv", "--caption", "a cube", "--local",
                       "--where", "colour=red")  # fmt: skip
    assert code == 1 and "Traceback" not in err
    [line] = err.strip().splitlines()
    assert line.startswith("error: unknown filter field 'colour'")
    for field in ("path", "price (number)", "sold (boolean)", "tags (strings)", "taken (date)"):
        assert field in line, line


def _jsonl(cli: Cli, collection: str, out: Path) -> list[dict]:
    code, _, err = cli("export", collection, "--format", "jsonl", "--out", str(out))
    assert code == 0, err
    assert f"exported {SCENES + 1} items" in err
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_export_jsonl_and_parquet_read_back(cli: Cli, indexed, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    records = _jsonl(cli, "fromjsonl", tmp_path / "out.jsonl")
    by_name = {Path(r["path"]).name: r for r in records}
    assert set(by_name) == set(META) | {COPY}
    for name, row in META.items():
        assert by_name[name]["metadata"] == {**row, "taken": f"{row['taken']}T00:00:00Z"}
    assert by_name[COPY]["metadata"] == {}
    spaces = set(records[0]["vectors"])
    assert spaces and all(set(r["vectors"]) == spaces for r in records)
    for r in records:
        for vector in r["vectors"].values():
            assert abs(np.linalg.norm(np.asarray(vector, np.float32)) - 1) < 1e-4

    code, _, err = cli(
        "export", "fromjsonl", "--format", "parquet", "--out", str(tmp_path / "out.parquet")
    )
    assert code == 0, err
    rows = pq.read_table(str(tmp_path / "out.parquet")).to_pylist()
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in records)
    as_json = {r["id"]: r for r in records}
    for row in rows:
        assert row["path"] == as_json[row["id"]]["path"]
        assert row["model"] == as_json[row["id"]]["model"]
        assert json.loads(row["metadata"]) == as_json[row["id"]]["metadata"]
        for space in spaces:  # the same float32 vectors in both formats
            stored = np.asarray(as_json[row["id"]]["vectors"][space], np.float32)
            exported = np.asarray(row[f"vector.{space}"], np.float32)
            assert np.array_equal(stored, exported), space


def test_duplicates_prints_the_copy_under_its_original(cli: Cli, indexed) -> None:
    code, out, err = cli("duplicates", "fromcsv")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2, out
    first = Path(lines[0].split()[1]).name  # the first indexed of the two: a folder's order
    _, similarity, path = lines[1].split()
    assert {first, Path(path).name} == {"scene0.png", COPY}
    assert 0.9 <= float(similarity) <= 1.0
    assert "1 groups, 1 near-duplicates" in err

    code, out, _ = cli("duplicates", "fromcsv", "--json")
    [group] = json.loads(out)
    names = [group["original"]["source_uri"], *(d["source_uri"] for d in group["duplicates"])]
    assert sorted(Path(n).name for n in names) == sorted(["scene0.png", COPY])

    code, out, _ = cli("duplicates", "fromjsonl")
    assert code == 0 and len(out.splitlines()) == 2, out
