"""``anyseek models pull`` against a local stand-in for the Hugging Face hub (tests/fake_hub.py):
a first pull with its progress bar, an interrupted pull continued by a Range request, a corrupted
download refused, a damaged cached file fetched anew, and a hub that cannot be reached said as
such within 5 s. Needs no open_clip: ``hf-hub:`` names are pulled by huggingface_hub alone."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from clip_extra import open_clip_installed
from fake_hub import FakeHub, blackhole, closed_port, serve

from anyseek.cli import main

ROOT = Path(__file__).resolve().parents[3]
REPO = "anyseek/tiny-clip"
NAME = f"open_clip:hf-hub:{REPO}"
WEIGHTS = "open_clip_model.safetensors"
WITHIN_S = 5.0
#: bytes of the weights the hub sends before it holds the rest (of 640 KB)
HELD = 200_000


def _files() -> dict[str, bytes]:
    """A hub repo's files: config, weights (random bytes: nothing here loads them), card."""
    weights = hashlib.sha256(b"anyseek").digest() * 20_000  # 640 KB
    return {
        "open_clip_config.json": b'{"model_cfg": {"embed_dim": 32}}',
        WEIGHTS: weights,
        "README.md": b"---\nlicense: mit\n---\n# tiny\n",
    }


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch):
    """The fake hub serving one repo, huggingface_hub pointed at it (as HF_ENDPOINT does)."""
    from huggingface_hub import constants

    with serve(FakeHub(repos={REPO: _files()})) as running:
        monkeypatch.setattr(constants, "ENDPOINT", running.url)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        yield running


def _cached(cache: Path, name: str) -> bytes | None:
    """A file of the repo as huggingface_hub finds it in the cache, offline; None if absent."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        path = hf_hub_download(REPO, name, cache_dir=str(cache), local_files_only=True)
    except LocalEntryNotFoundError:
        return None
    return Path(path).read_bytes()


def test_a_pull_fetches_checks_and_then_needs_no_network(hub, data_dir, monkeypatch, capsys):
    assert main(["models", "pull", NAME]) == 0
    out = capsys.readouterr()
    assert "100%" in out.err and WEIGHTS in out.err  # the progress bar
    assert out.out.count("downloaded") == 3 and "loads from there with no network" in out.out
    for name, data in _files().items():
        assert _cached(data_dir / "models", name) == data
    assert not [r for r in hub.requests if "open_clip_config.safetensors" in r.path]  # no such file
    gets = len([r for r in hub.requests if r.method == "GET"])

    from huggingface_hub import constants  # the hub gone: a second pull rehashes, offline

    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    assert main(["models", "pull", NAME]) == 0
    assert capsys.readouterr().out.count("checked") == 3
    assert len([r for r in hub.requests if r.method == "GET"]) == gets

    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert NAME in out and REPO in out and WEIGHTS in out and "625.1 KiB" in out


def test_an_interrupted_pull_continues_where_it_stopped(hub, data_dir, capsys) -> None:
    weights = _files()[WEIGHTS]
    hub.cut_after[WEIGHTS] = 250_000  # the connection drops after 250 KB
    assert main(["models", "pull", NAME]) == 1
    err = capsys.readouterr().err
    assert f"stopped at 250000 of {len(weights)} bytes" in err and "continues it" in err
    parts = list((data_dir / "models").rglob("*.part"))
    assert [p.stat().st_size for p in parts] == [250_000]  # what arrived is kept
    assert _cached(data_dir / "models", WEIGHTS) is None
    assert main(["models", "list", "--cached"]) == 0
    assert "a pull stopped after 244.1 KiB" in capsys.readouterr().out

    assert main(["models", "pull", NAME]) == 0
    assert hub.gets(WEIGHTS)[-1].range == "bytes=250000-"  # only the rest was asked for
    assert _cached(data_dir / "models", WEIGHTS) == weights
    assert not list((data_dir / "models").rglob("*.part"))


def test_a_pull_stopped_by_ctrl_c_continues_where_it_stopped(hub, data_dir) -> None:
    """The real command in its own process, interrupted as a person does (SIGINT) part way
    through the weights; the next pull asks only for the rest. The hub sends ``HELD`` bytes and
    holds the rest until the signal has gone, so the signal comes mid-download however loaded
    the machine (a throttled hub once finished before a late signal came)."""
    weights = _files()[WEIGHTS]
    hub.hold_after[WEIGHTS] = HELD
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANYSEEK_", "HF_"))}
    env |= {"HF_ENDPOINT": hub.url, "ANYSEEK_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    pull = subprocess.Popen(
        [sys.executable, "-m", "anyseek.cli", "models", "pull", NAME],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        arrived = _wait_for_part(pull, data_dir, more_than=50_000)
        assert arrived, f"no part of over 50 KB: hub held {hub.held.is_set()}, exit {pull.poll()}"
        pull.send_signal(signal.SIGINT)
        _, err = pull.communicate(timeout=60)
    finally:
        hub.release.set()  # the rest of the file may go now (to a closed connection)
        if pull.poll() is None:
            pull.kill()
    assert pull.returncode != 0 and "Traceback" not in err, err
    kept = next(data_dir.rglob("*.part")).stat().st_size
    assert 50_000 < kept <= HELD  # what arrived is kept, and nothing the hub had not sent

    assert main(["models", "pull", NAME]) == 0  # the same data directory, in this process
    assert hub.gets(WEIGHTS)[-1].range == f"bytes={kept}-"
    assert _cached(data_dir / "models", WEIGHTS) == weights


def _wait_for_part(pull: subprocess.Popen, data_dir: Path, more_than: int) -> bool:
    """Wait until the pull's part file holds over ``more_than`` bytes; False if the pull ended
    first, or if nothing came in 120 s (the hub's hold keeps the file from finishing)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and pull.poll() is None:
        if any(_size(part) > more_than for part in data_dir.rglob("*.part")):
            return True
        time.sleep(0.05)
    return False


def _size(path: Path) -> int:
    """A file's size; 0 once it is gone (a small file's part is renamed as soon as it is whole)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def test_a_corrupted_download_is_refused_and_a_damaged_file_fetched_anew(hub, data_dir, capsys):
    hub.corrupt.add(WEIGHTS)
    assert main(["models", "pull", NAME]) == 1
    err = capsys.readouterr().err
    assert "is corrupted (sha256" in err and "nothing was added to the cache" in err
    assert _cached(data_dir / "models", WEIGHTS) is None
    assert not list((data_dir / "models").rglob("*.part"))

    hub.corrupt.clear()
    assert main(["models", "pull", NAME]) == 0
    blob = Path(os.path.realpath(next((data_dir / "models").rglob(WEIGHTS))))
    blob.write_bytes(b"\0" + blob.read_bytes()[1:])  # the disk damages the cached file
    capsys.readouterr()
    assert main(["models", "pull", NAME]) == 0
    out = capsys.readouterr().out
    assert any(WEIGHTS in line and "downloaded" in line for line in out.splitlines())
    assert _cached(data_dir / "models", WEIGHTS) == _files()[WEIGHTS]


def test_an_etag_that_is_no_hash_is_refused_before_it_names_a_file(hub, data_dir, capsys):
    hub.declared[WEIGHTS] = "../../../escaped"  # the cache names blobs by their ETag
    assert main(["models", "pull", NAME]) == 1
    assert "no usable X-Repo-Commit and ETag headers" in capsys.readouterr().err
    assert not list(data_dir.parent.rglob("escaped*"))


def _load_error(settings_source: str, cache: Path) -> tuple[str, float]:
    """The one-line error and the seconds a load of ``settings_source`` took to give it."""
    from anyseek.model.service import ModelError, load_search_model
    from anyseek.settings import ModelSettings

    settings = ModelSettings(source=settings_source, device="cpu", cache=str(cache))
    start = time.monotonic()
    with pytest.raises(ModelError) as error:
        load_search_model(settings)
    return str(error.value), time.monotonic() - start


@pytest.mark.parametrize("how", ["refused", "blackhole"])
def test_no_network_is_said_within_seconds(how, tmp_path, monkeypatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    if how == "refused":
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{closed_port()}")
        message, seconds = _load_error(NAME, tmp_path)
    else:
        with blackhole() as port:
            monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
            message, seconds = _load_error(NAME, tmp_path)
    assert seconds < WITHIN_S, seconds
    assert "cannot be reached, no network?" in message
    assert f"anyseek models pull {NAME}" in message and str(tmp_path) in message
    assert "has none of" not in message  # not the false 'missing file' of before


FRESH_LOAD = """
import sys, time
from anyseek.model.service import ModelError, load_search_model
from anyseek.settings import ModelSettings
settings = ModelSettings(source=sys.argv[1], device="cpu", cache=sys.argv[2])
start = time.monotonic()
try:
    load_search_model(settings)
except ModelError as error:
    print(round(time.monotonic() - start, 2), error)
"""


def test_a_fresh_process_behind_a_dead_link_says_so_within_seconds(tmp_path: Path) -> None:
    """The first request of a process is the one that waits: nothing before it may (such as
    huggingface_hub's own lookup of AI agents on the hub, 3 s more where it is asked first)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANYSEEK_", "HF_"))}
    env |= {"HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(ROOT)}  # nothing cached by it
    with blackhole() as port:
        env["HF_ENDPOINT"] = f"http://127.0.0.1:{port}"
        done = subprocess.run(
            [sys.executable, "-c", FRESH_LOAD, NAME, str(tmp_path / "models")],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    seconds, _, message = done.stdout.partition(" ")
    assert "cannot be reached, no network?" in message, done.stderr
    assert float(seconds) < WITHIN_S, message


def test_offline_mode_is_named_and_a_missing_file_is_not_a_network_fault(
    hub, tmp_path, monkeypatch
):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    message, seconds = _load_error(NAME, tmp_path)
    assert "HF_HUB_OFFLINE is set" in message and seconds < 1
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    del hub.repos[REPO][WEIGHTS]
    del hub.repos[REPO]["README.md"]
    message, _ = _load_error(NAME, tmp_path)
    assert "has none of open_clip_model.safetensors, open_clip_pytorch_model.bin" in message
    assert "cannot be reached" not in message
    message, _ = _load_error("open_clip:hf-hub:anyseek/absent", tmp_path)
    assert "refused 'anyseek/absent': no such repo" in message


def test_a_pull_with_no_network_says_so_within_seconds(data_dir, monkeypatch, capsys) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    start = time.monotonic()
    assert main(["models", "pull", NAME]) == 1
    assert time.monotonic() - start < WITHIN_S
    err = capsys.readouterr().err
    assert "cannot be reached" in err and "Traceback" not in err


def test_hf_endpoint_is_the_hub_a_pull_uses(tmp_path: Path) -> None:
    """The real command in its own process, the hub named by HF_ENDPOINT alone."""
    with serve(FakeHub(repos={REPO: _files()})) as running:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANYSEEK_", "HF_"))}
        env |= {
            "HF_ENDPOINT": running.url,
            "ANYSEEK_DATA_DIR": str(tmp_path),
            "PYTHONPATH": str(ROOT),
        }
        done = subprocess.run(
            [sys.executable, "-m", "anyseek.cli", "models", "pull", NAME],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    assert _cached(tmp_path / "models", WEIGHTS) == _files()[WEIGHTS]


@pytest.mark.skipif(open_clip_installed(), reason="open_clip is installed here")
def test_without_open_clip_the_list_says_so_and_a_tag_names_the_extra(data_dir, capsys) -> None:
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "holds no model yet" in out and "cannot be listed here" in out and "anyseek[clip]" in out
    assert main(["models", "pull", "ViT-B-32/laion2b_s34b_b79k"]) == 1
    assert "pip install 'anyseek[clip]'" in capsys.readouterr().err


def test_the_docs_say_the_wait_the_code_has() -> None:
    from anyseek.model.families.hub import HUB_TIMEOUT_S

    text = " ".join((ROOT / "docs" / "models.md").read_text().split())
    assert f"waits at most {HUB_TIMEOUT_S:g} s for an answer (`HUB_TIMEOUT_S`" in text
    assert HUB_TIMEOUT_S < WITHIN_S


def test_a_full_disk_is_said_in_one_line_and_the_next_pull_works(
    hub, data_dir, small_disk, monkeypatch, capsys
) -> None:
    from small_disk import fill, free

    monkeypatch.setenv("ANYSEEK_MODEL__CACHE", str(small_disk / "models"))
    filler = fill(small_disk)
    code = main(["models", "pull", NAME])
    free(filler)
    err = capsys.readouterr().err
    assert code == 1 and "the disk is full: cannot write the download of" in err, err
    assert "Traceback" not in err
    assert main(["models", "pull", NAME]) == 0
    assert _cached(small_disk / "models", WEIGHTS) == _files()[WEIGHTS]
