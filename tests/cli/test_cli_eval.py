"""``anyseek eval retrieval``: a JSON report of the committed model, and clear argument errors."""

from __future__ import annotations

import json

import pytest

from anyseek.cli import main
from anyseek.workbench.evaluate import HUMAN_QUERIES, QUERIES
from anyseek.workbench.styles import HELD_OUT


@pytest.mark.slow
def test_eval_retrieval_writes_the_report_of_the_committed_model(tmp_path, capsys) -> None:
    report_path = tmp_path / "report.json"
    args = ["--n", "40", "--seed", "31337", "--human", "--json", str(report_path)]
    code = main(["eval", "retrieval", *args])
    assert code in (0, None)
    report = json.loads(report_path.read_text())
    assert set(QUERIES) | {"random"} <= set(report)
    for query in QUERIES:
        assert {"R@1", "R@5", "R@10", "MRR"} <= set(report[query]["bind"])
    # the committed model finds scenes from their sketches far better than a random ranking
    assert report["sketch"]["bind"]["MRR"] > 5 * report["random"]["none"]["MRR"]
    assert "attr_P@10" in report["object"]["bind"] and "edge_baseline" in report["sketch"]
    out = capsys.readouterr().out
    assert "| sketch | bind |" in out
    # --human: the default person and every held-out one, after the generator's queries
    people = [f"{q} (default)" for q in HUMAN_QUERIES]
    people += [f"{q} ({s}, held out)" for s in HELD_OUT for q in HUMAN_QUERIES]
    assert list(report)[-len(people) - 1 :] == [*people, "random"]
    assert "| sketch (scrawl, held out) | bind |" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n", "3"], "--n must be at least 10"),
        (["--model", "/nonexistent/bundle"], "/nonexistent/bundle"),
    ],
)
def test_eval_retrieval_rejects_bad_arguments(capsys, args, message) -> None:
    code = main(["eval", "retrieval", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
