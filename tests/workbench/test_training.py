"""``anyseek train default``: the tiny recipe from nothing to a bundle the service loads, and a
run killed mid-training that ``--resume`` finishes without losing its finished chunks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from anyseek.cli import main
from anyseek.model.runtime.precision import native_bf16
from anyseek.model.service import load_search_model
from anyseek.workbench.card import render_card

ROOT = Path(__file__).resolve().parents[2]
TINY = json.loads((ROOT / "anyseek" / "workbench" / "recipes" / "tiny.json").read_text())


@pytest.mark.slow
def test_the_tiny_recipe_trains_a_bundle_the_service_loads(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["train", "default", "--recipe", "tiny", "--out", str(out)]) in (0, None)
    model = load_search_model(str(out / "bundle"))
    assert [s.name for s in model.spaces] == ["bind"]
    assert {"image", "sketch", "semseg", "caption"} <= set(model.query_modalities)
    history = json.loads((out / "history.json").read_text())
    assert history and history[-1]["step"] == TINY["train"]["steps"]
    assert "sketch (scrawl, held out) R@10" in history[-1]
    report = json.loads((out / "eval.json").read_text())
    assert report["sketch"]["bind"]["R@10"] >= 0.0 and "edge_baseline" in report["sketch"]
    # the card is written from the bundle's own files: its run facts are in bundle.json
    manifest = json.loads((out / "bundle" / "bundle.json").read_text())
    assert manifest["generation"] == TINY.get("generation", "")
    assert manifest["training"]["parameters"] > 0 and manifest["training"]["wall_minutes"] > 0
    # the precision is measured where the CPU could use bf16, and the card names the one used
    trial = out / "precision.json"
    if native_bf16():
        chosen = json.loads(trial.read_text())["chosen"]
        assert f"precision: {chosen}" in (out / "train.log").read_text()
    else:
        chosen = "float32"
        assert not trial.exists()
    assert manifest["training"]["precision"] == chosen
    card = (out / "bundle" / "MODEL_CARD.md").read_text()
    assert card == render_card(out / "bundle")
    assert f"{manifest['training']['parameters'] / 1e6:.2f} M parameters" in card
    # a second call without --resume refuses to mix runs
    assert main(["train", "default", "--recipe", "tiny", "--out", str(out)]) == 1
    assert "--resume" in capsys.readouterr().err


def _start_run(tmp_path: Path, **train: object) -> tuple[list[str], Path, dict, subprocess.Popen]:
    """``anyseek train default`` of the tiny recipe (``train`` overrides) started into
    ``tmp_path/run`` in a process of its own: its command, folder, environment and process."""
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps({**TINY, "train": {**TINY["train"], **train}}))
    out = tmp_path / "run"
    command = [sys.executable, "-m", "anyseek.cli", "train", "default", "--recipe", str(path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen(
        [*command, "--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return command, out, env, first


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_last_chunk(tmp_path: Path) -> None:
    steps = 60  # ~20 s of tiny steps here, about 30 chunks: killed well inside the run
    command, out, env, first = _start_run(tmp_path, steps=steps, chunk_minutes=0.01)
    deadline = time.monotonic() + 240
    while not (out / "checkpoint.pt").exists() and time.monotonic() < deadline:
        assert first.poll() is None, "the run ended before its first checkpoint"
        time.sleep(0.2)
    time.sleep(1.0)
    first.send_signal(signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL, "the run ended before the kill: nothing to resume"
    done = subprocess.run(
        [*command, "--out", str(out), "--resume"], env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    log = (out / "train.log").read_text()
    assert "resumed at step" in log
    history = json.loads((out / "history.json").read_text())
    done_at = [r["step"] for r in history]
    assert done_at == sorted(done_at) and done_at[-1] == steps and len(done_at) >= 2


@pytest.mark.slow
def test_a_second_run_into_the_same_folder_is_refused_naming_the_first(tmp_path: Path) -> None:
    command, out, env, first = _start_run(tmp_path, steps=1_000_000)  # runs until killed
    try:
        deadline = time.monotonic() + 120
        while not (out / "recipe.json").exists() and time.monotonic() < deadline:  # lock held
            assert first.poll() is None, "the first run ended at once"
            time.sleep(0.2)
        second = subprocess.run(  # --resume: what the "already holds a run" check lets through
            [*command, "--out", str(out), "--resume"], env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert first.poll() is None, "the first run must still be running"
        assert second.returncode == 1, second.stdout + second.stderr
        assert f"is being trained by pid {first.pid} (started " in second.stderr, second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    from anyseek.workbench.run_lock import hold_run

    with hold_run(out, "a test"):  # the kernel let go of the killed run's lock
        assert json.loads((out / ".train.lock").read_text())["pid"] == os.getpid()


@pytest.mark.slow
def test_a_run_started_from_a_bundle_takes_its_weights_and_vocabulary(
    tmp_path: Path, capsys
) -> None:
    from anyseek.model.builtin.bundle import load_builtin_bundle, save_builtin_bundle
    from anyseek.model.builtin.network import BuiltinConfig, BuiltinModel
    from anyseek.model.builtin.text import WordVocab
    from anyseek.scenes.sample import generate_scene

    torch.manual_seed(7)
    config = BuiltinConfig.load(Path("tiny"))
    captions = [c for seed in range(60) for c in generate_scene(seed, 32).captions]
    marked = captions + ["zebra"] * 1000  # a word no scene of the run says: its vocabulary's own
    vocab = WordVocab.build(marked, config.text_vocab, buckets=config.text_buckets)
    start = save_builtin_bundle(tmp_path / "start", BuiltinModel(config), vocab)
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps({**TINY, "train": {**TINY["train"], "steps": 0,
                                                  "start_from": str(start)}}))  # fmt: skip
    out = tmp_path / "run"
    assert main(["train", "default", "--recipe", str(path), "--out", str(out)]) in (0, None)
    began, trained = load_builtin_bundle(start), load_builtin_bundle(out / "bundle")
    assert trained.vocab == began.vocab == vocab and vocab.words[0] == "zebra"
    for name, value in began.model.state_dict().items():
        assert torch.equal(trained.model.state_dict()[name], value), name
    assert f"started from the weights of {start}" in (out / "train.log").read_text()
    # a start that is not the recipe's network, or no bundle, is refused before any rendering
    for wrong, said in (("builtin", "is not a 'tiny' network"), (tmp_path, "no built-in model")):
        path.write_text(json.dumps({**TINY, "train": {**TINY["train"], "start_from": str(wrong)}}))
        again = tmp_path / f"again-{said[:6]}"
        assert main(["train", "default", "--recipe", str(path), "--out", str(again)]) == 1
        assert said in capsys.readouterr().err and not (again / "cache").exists()
