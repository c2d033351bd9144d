"""One declaration reaches every surface: a new query modality, declared and nothing else, gets
its multipart field, JSON check, CLI option and docs row (run in a fresh interpreter, since the
API route and the CLI read the declarations once, when they are imported)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import base64, json, tempfile
from anyseek.model.queries import QUERY_KINDS, QueryKind, query_kinds_markdown
QUERY_KINDS["thermal"] = QueryKind(
    "thermal", "file", "rgb", "file", "Thermal", "a thermal camera image", ("png",)
)

from anyseek.settings import Settings
from anyseek.api.app import create_app
from anyseek.api.query_bodies import parts_from_json
from anyseek.api.schemas import SearchRequest
from anyseek.model.families.interface import QueryModality

doc = create_app(Settings(data_dir=tempfile.mkdtemp())).openapi()
upload = doc["paths"]["/v1/collections/{name}/search/upload"]["post"]
field = upload["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]["thermal"]

body = {"parts": [{"modality": "thermal", "data": base64.b64encode(b"png!").decode()}]}
part = parts_from_json(SearchRequest.model_validate(body), 20)[0]

from typer.testing import CliRunner
from anyseek.cli import app
help_text = CliRunner().invoke(app, ["search", "--help"], terminal_width=200).output

print(json.dumps({
    "form": field["description"],
    "json": [part.modality, part.value.decode()],
    "cli": "--thermal" in help_text and "A thermal camera image" in help_text,
    "docs": "| `thermal` | file | png | `--thermal` | file | a thermal camera image |"
    in query_kinds_markdown(), "family": QueryModality("thermal", "rgb@64", lambda v: v).kind.label,
}))
"""


def test_one_declaration_adds_a_query_modality_to_every_surface(tmp_path: Path) -> None:
    import json

    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "ANYSEEK_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == {
        "form": "a thermal camera image (png)",
        "json": ["thermal", "png!"],
        "cli": True,
        "docs": True,
        "family": "Thermal",
    }
