"""The pieces of ``anyseek serve --workers N`` that need no server: the port every process binds,
the writer's private address, and the model threads split over the processes."""

from __future__ import annotations

import socket

import pytest
from api_helpers import settings_from_args

from anyseek.api.readers import (
    free_port_of,
    private_socket,
    shared_port_socket,
    threads_per_process,
    url_of,
)
from anyseek.cli import main


def test_every_process_can_bind_the_port_and_the_kernel_turns_nagle_off() -> None:
    port = free_port_of("127.0.0.1", 0)
    first = shared_port_socket("127.0.0.1", port)
    second = shared_port_socket("127.0.0.1", port)  # a reader beside the writer
    try:
        assert first.proto == second.proto == socket.IPPROTO_TCP  # asyncio sets TCP_NODELAY
        with pytest.raises(ConnectionRefusedError):  # bound, not listening until loaded
            socket.create_connection(("127.0.0.1", port), timeout=5)
        second.listen()
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        first.close()
        second.close()


def test_a_port_another_server_holds_is_a_one_line_refusal() -> None:
    with socket.socket() as taken:  # another program
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit, match=f"cannot listen on 127.0.0.1:{port}"):
            shared_port_socket("127.0.0.1", port)
    other = shared_port_socket("127.0.0.1", free_port_of("127.0.0.1", 0))  # another --workers
    other.listen()
    try:
        port = other.getsockname()[1]
        with pytest.raises(SystemExit, match=f"cannot listen on 127.0.0.1:{port}"):
            free_port_of("127.0.0.1", port)  # refused, not shared with it
    finally:
        other.close()


def test_the_writer_private_address_is_loopback() -> None:
    sock = private_socket()
    try:
        assert url_of(sock).startswith("http://127.0.0.1:")
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_model_threads_are_split_over_the_processes_unless_set(tmp_path) -> None:
    settings = settings_from_args(data_dir=tmp_path)
    assert threads_per_process(settings, 1) is settings
    split = threads_per_process(settings, 64)
    assert split.api.inference_threads == 1  # never 0, whatever the cores
    chosen = settings_from_args(data_dir=tmp_path, api={"inference_threads": 3})
    assert threads_per_process(chosen, 2).api.inference_threads == 3


def test_workers_below_one_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--workers", "0"]) != 0
    assert "--workers" in capsys.readouterr().err
