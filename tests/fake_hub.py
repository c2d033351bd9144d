"""A local stand-in for the Hugging Face hub: an HTTP server on 127.0.0.1 answering what a model
download asks (``HEAD``/``GET /{repo}/resolve/{revision}/{file}``) with the headers the hub sends,
Range requests included, and faults a test sets: a download cut off part way, one held part way
until the test releases it (to be interrupted there, whatever the machine's load), bytes that do
not match the declared hash. Point huggingface_hub at it with ``HF_ENDPOINT`` (read at its
import, so a test in the same process sets ``huggingface_hub.constants.ENDPOINT``).

LFS files (weights) answer as the hub does: a redirect to another host (the CDN; here
``localhost`` for the ``127.0.0.1`` the endpoint names) with ``X-Linked-Etag`` (their sha256)
and ``X-Linked-Size``; other files answer directly with their git blob sha1 as ``ETag``.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "a" * 40
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<file>.+)$")
_CDN = re.compile(r"^/cdn/(?P<repo>[^/]+/[^/]+)/(?P<file>.+)$")


def git_sha1(data: bytes) -> str:
    """The id git gives a file's content (the hub's ETag of a non-LFS file)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass
class Request:
    """One request the hub answered: what a test asserts on."""

    method: str
    path: str
    range: str | None


@dataclass
class FakeHub:
    """Repos of files served over HTTP, the requests seen and the faults to play."""

    repos: dict[str, dict[str, bytes]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    cut_after: dict[str, int] = field(default_factory=dict)  # file -> bytes sent, then hang up
    corrupt: set[str] = field(default_factory=set)  # files served with one byte changed
    hold_after: dict[str, int] = field(default_factory=dict)  # file -> bytes sent, then wait
    held: threading.Event = field(default_factory=threading.Event)  # set once a hold began
    release: threading.Event = field(default_factory=threading.Event)  # ends every hold
    declared: dict[str, str] = field(default_factory=dict)  # file -> the ETag said instead
    port: int = 0

    @property
    def url(self) -> str:
        """The endpoint (what HF_ENDPOINT is set to)."""
        return f"http://127.0.0.1:{self.port}"

    def etag(self, name: str, data: bytes) -> str:
        """The ETag the hub gives a file: sha256 for LFS files, git blob sha1 for others."""
        lfs = name.endswith(LFS_SUFFIXES)
        return hashlib.sha256(data).hexdigest() if lfs else git_sha1(data)

    def gets(self, name: str) -> list[Request]:
        """The GET requests of a file's bytes."""
        return [r for r in self.requests if r.method == "GET" and r.path.endswith(f"/{name}")]


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    """The request handler serving ``hub``."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet test output
            pass

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, body: bool) -> None:
            hub.requests.append(Request(self.command, self.path, self.headers.get("Range")))
            cdn = _CDN.match(self.path)
            found = cdn or _RESOLVE.match(self.path)
            if found is None or found["repo"] not in hub.repos:
                return self._error(404, "RepoNotFound")
            files = hub.repos[found["repo"]]
            name = found["file"]
            if name not in files:
                return self._error(404, "EntryNotFound")
            data = files[name]
            etag = hub.declared.get(name) or hub.etag(name, data)
            if name.endswith(LFS_SUFFIXES) and not cdn:  # the hub redirects weights to its CDN
                self.send_response(302)
                self.send_header(
                    "Location", f"http://localhost:{hub.port}/cdn/{found['repo']}/{name}"
                )
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("X-Linked-Etag", f'"{etag}"')
                self.send_header("X-Linked-Size", str(len(data)))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if name in hub.corrupt:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            start = _range_start(self.headers.get("Range"))
            self.send_response(206 if start else 200)
            self.send_header("ETag", f'"{etag}"')
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(data) - start))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if not body:
                return None
            cut = hub.cut_after.pop(name, None) if self.command == "GET" else None
            sent = data[start:] if cut is None else data[start : start + cut]
            hold = hub.hold_after.pop(name, None) if self.command == "GET" else None
            try:
                if hold is not None:  # part of the file, then nothing until the test says so
                    self.wfile.write(sent[:hold])
                    self.wfile.flush()
                    hub.held.set()
                    hub.release.wait()
                    sent = sent[hold:]
                self.wfile.write(sent)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):  # the client went away
                return None
            if cut is not None:  # hang up part way, as a dropped connection does
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            return None

        def _error(self, status: int, code: str) -> None:
            self.send_response(status)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def _range_start(header: str | None) -> int:
    """The first byte a ``Range: bytes=N-`` header asks for (0 without one)."""
    found = re.fullmatch(r"bytes=(\d+)-", header or "")
    return int(found[1]) if found else 0


@contextmanager
def serve(hub: FakeHub) -> Iterator[FakeHub]:
    """Serve ``hub`` on an ephemeral port of 127.0.0.1 for the ``with`` block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    hub.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        hub.release.set()  # no handler left waiting on a hold
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """A port of 127.0.0.1 where nothing listens (a connection is refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def blackhole() -> Iterator[int]:
    """A port of 127.0.0.1 that accepts connections and never answers (a hub behind a dead link
    or a firewall that swallows packets, as far as the client can tell)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]
