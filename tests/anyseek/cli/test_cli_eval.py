"""``anyseek eval retrieval``: a JSON report of the committed model, and clear argument errors."""

from __future__ import annotations

import json

import pytest

from anyseek.cli import main
from model.eval.human import HUMAN_QUERIES
from model.eval.retrieval import QUERIES


@pytest.mark.slow
def test_eval_retrieval_writes_the_report_of_the_committed_model(tmp_path, capsys) -> None:
    report_path = tmp_path / "report.json"
    args = ["--n", "12", "--decode", "greedy", "--human", "--json", str(report_path)]
    code = main(["eval", "retrieval", *args])
    assert code in (0, None)
    report = json.loads(report_path.read_text())
    assert set(QUERIES) | {"random"} <= set(report)
    for query in QUERIES:
        for space in ("clip", "dino", "fused"):
            metrics = report[query][space]
            assert {"R@1", "R@5", "R@10", "MRR"} <= set(metrics)
    # the committed model finds scenes from their captions far better than a random ranking
    assert report["caption"]["fused"]["MRR"] > 2 * report["random"]["none"]["MRR"]
    assert "attr_P@10" in report["caption"]["fused"]
    out = capsys.readouterr().out
    assert "| sketch | fused |" in out
    # --human: a person's queries of the same scenes, beside the generator's, before the baseline
    assert list(report)[-5:] == [*HUMAN_QUERIES, "random"]
    assert "| sketch (human) | fused |" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n", "3"], "--n must be at least 10"),
        (["--decode", "sampled"], "--decode must be one of greedy, expected"),
        (["--model", "/nonexistent/bundle"], "/nonexistent/bundle"),
    ],
)
def test_eval_retrieval_rejects_bad_arguments(capsys, args, message) -> None:
    code = main(["eval", "retrieval", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
