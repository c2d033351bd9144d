"""A source fails per entry, never whole, and never hangs: loops, FIFOs, sockets, devices,
undecodable names and unreadable files are each one reported failure beside the good images."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest
from PIL import Image

from anyseek.indexer import run_index
from anyseek.indexer.errors import SourceError
from anyseek.scenes import generate_scene

GOOD = 3


def _image(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(generate_scene(996_000 + seed, 64).rgb).save(path, format="PNG")


def hostile_folder(root: Path) -> dict[str, str]:
    """Good images plus one of each bad entry; {name as reported: words of its reason}."""
    for n in range(GOOD):
        _image(root / f"good{n}.png", n)
    (root / "loop_a.png").symlink_to(root / "loop_b.png")
    (root / "loop_b.png").symlink_to(root / "loop_a.png")
    (root / "self.png").symlink_to(root / "self.png")
    (root / "broken.png").symlink_to(root / "nothing-here.png")
    os.mkfifo(root / "pipe.png")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(root / "sock.png"))
    server.close()
    (root / "empty.png").write_bytes(b"")
    (root / "text.png").write_text("not an image")
    odd = os.fsencode(str(root)) + b"/caf\xe9.png"  # Latin-1, not UTF-8
    with open(odd, "wb") as handle:
        handle.write((root / "good0.png").read_bytes()[:-1] + b"\x00")  # other bytes: not a dup
    return {
        "loop_a.png": "symlink loop",
        "loop_b.png": "symlink loop",
        "self.png": "symlink loop",
        "broken.png": "file not found",
        "pipe.png": "FIFO",
        "sock.png": "socket",
        "empty.png": "empty file",
        "text.png": "",
        "caf\\xe9.png": "",
    }


@pytest.mark.timeout(300)
def test_a_hostile_folder_fails_per_entry(ready_settings, search_model, tmp_path: Path) -> None:
    root = tmp_path / "hostile"
    expected = hostile_folder(root)
    result = run_index(ready_settings, "h", root, model=search_model)
    assert result.status == "partial", result  # failed entries beside indexed ones
    reasons = {Path(uri).name: reason for uri, reason in result.failures}
    # the undecodable name is indexed (kept as bytes) or failed, never the job
    if "caf\\xe9.png" not in reasons:
        expected.pop("caf\\xe9.png")
        assert result.done == GOOD + 1
    assert set(reasons) == set(expected), reasons
    for name, words in expected.items():
        assert words in reasons[name], (name, reasons[name])
    for reason in reasons.values():
        assert " at 0x" not in reason and "<" not in reason, reason


@pytest.mark.timeout(120)
def test_a_list_of_hostile_entries_fails_per_entry(ready_settings, search_model, tmp_path) -> None:
    root = tmp_path / "hostile"
    hostile_folder(root)
    listing = tmp_path / "list.txt"
    names = ["good1.png", "pipe.png", "loop_a.png", "sock.png", "missing.png"]
    listing.write_text("\n".join(str(root / n) for n in names) + "\n")
    result = run_index(ready_settings, "l", listing, model=search_model)
    assert (result.status, result.done, result.failed) == ("partial", 1, 4), result


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("/dev/zero", "character device"),
        ("~nosuchuser-anyseek/x.png", "no such user"),
        ("pipe", "FIFO"),
        ("pipe.txt", "FIFO"),
        ("loop", "symlink loop"),
    ],
)
def test_a_wrong_source_path_is_one_line_and_no_job(
    ready_settings, search_model, tmp_path: Path, source: str, words: str
) -> None:
    os.mkfifo(tmp_path / "pipe")
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    path = source if source.startswith(("/", "~")) else str(tmp_path / source)
    start = time.monotonic()
    with pytest.raises(SourceError, match=words) as caught:
        run_index(ready_settings, "w", path, model=search_model)
    assert time.monotonic() - start < 30
    assert "\n" not in str(caught.value)


def test_a_stuck_file_times_out_alone(
    ready_settings, search_model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anyseek.indexer import pipeline

    for n in range(GOOD):
        _image(tmp_path / f"good{n}.png", n)
    real = pipeline.fetch

    def stuck_on_one(ref, settings):  # a read that never returns, like a hung network mount
        if ref.uri.endswith("good1.png"):
            time.sleep(3)
        return real(ref, settings)

    monkeypatch.setattr(pipeline, "fetch", stuck_on_one)
    settings = ready_settings.model_copy(
        update={"indexer": ready_settings.indexer.model_copy(update={"file_timeout_s": 0.3})}
    )
    start = time.monotonic()
    result = run_index(settings, "t", tmp_path, model=search_model)
    assert (result.done, result.failed) == (GOOD - 1, 1), result
    assert "timed out" in result.failures[0][1]
    assert time.monotonic() - start < 30
