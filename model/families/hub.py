"""Files of a Hugging Face hub repo in the model cache: read offline first, downloaded checked and
resumable, and a hub that cannot be reached said within seconds, as such.

The cache is huggingface_hub's own layout (``models--ORG--NAME/blobs/<etag>``, ``snapshots/<commit>/
<file>`` linking to the blob, ``refs/main`` naming the commit), read with ``hf_hub_download(...,
local_files_only=True)``. Downloads are done here, for what ``hf_hub_download`` does not do: it
retries an unreachable hub for about a minute and then reports a file missing from the repo; it
deletes a partial download when interrupted, so a large pull starts over; it checks a download's
size but not its content. Here the first request waits at most :data:`HUB_TIMEOUT_S`, a partial
download stays as ``blobs/<etag>.part`` and is continued by a Range request, and a finished one
must hash to the ETag the hub declared (sha256 for LFS files, git's blob sha1 for the others) or
it is removed. The hub is ``HF_ENDPOINT`` (default https://huggingface.co), as for huggingface_hub.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urljoin, urlparse

import httpx

from anyseek.errors import write_failed
from anyseek.model.families.interface import ModelError

#: seconds the hub gets to answer the first request before it counts as unreachable
HUB_TIMEOUT_S = 4.0
#: seconds a started download may wait for its next bytes
READ_TIMEOUT_S = 60.0
REVISION = "main"
MAX_REDIRECTS = 5
CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")
_GIT_SHA1 = re.compile(r"[0-9a-f]{40}")
_NAME = re.compile(r"[\w-]{1,128}")  # what a hub's commit id or ETag may be: a file name


class HubUnreachable(ModelError):
    """The hub did not answer (no network, a firewall, a dead mirror) or HF_HUB_OFFLINE is set."""


@dataclass(frozen=True)
class RemoteFile:
    """A file as the hub describes it before its bytes are fetched."""

    repo: str
    name: str
    url: str  # where its bytes are (the hub's redirect target for LFS files)
    commit: str
    etag: str  # sha256 of an LFS file, git blob sha1 of another
    size: int | None


@dataclass(frozen=True)
class HubFile:
    """A file of a repo in the cache, and how it got there."""

    repo: str
    name: str
    path: Path
    size: int
    how: str  # "cached" (found, not rechecked), "checked" (found and rehashed), "downloaded"


def endpoint() -> str:
    """The hub huggingface_hub talks to (``HF_ENDPOINT``, read by it at import)."""
    from huggingface_hub import constants

    return constants.ENDPOINT


def offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` forbids any request to the hub."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def repo_folder(cache: Path, repo: str) -> Path:
    """The cache folder of a model repo (``models--ORG--NAME``)."""
    return cache / f"models--{repo.replace('/', '--')}"


def cached(repo: str, name: str, cache: Path) -> Path | None:
    """The cached file ``name`` of ``repo``, or None: the file system only, no network."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, name, cache_dir=str(cache), revision=REVISION)
    return Path(found) if isinstance(found, str) and Path(found).is_file() else None


#: the hub's ``X-Error-Code`` of a refused request -> what it means here
REFUSALS = {
    "RepoNotFound": "no such repo (or it is private: log in with `hf auth login`)",
    "GatedRepo": "a gated repo: accept its terms on the hub and log in with `hf auth login`",
    "RevisionNotFound": f"no {REVISION!r} revision",
}


def describe(repo: str, name: str) -> RemoteFile | None:
    """What the hub says of ``repo``'s file ``name`` (None: the repo has no such file), asked
    once with no retry. Unreachable: :class:`HubUnreachable`; refused: a ModelError.

    Asked with httpx, not ``get_hf_file_metadata``: huggingface_hub builds its request headers
    with a lookup of its own on the hub (a registry of AI agents, 3 s of timeout), which would
    come first and double the wait on a dead link."""
    if offline():
        raise HubUnreachable("HF_HUB_OFFLINE is set")
    url = f"{endpoint()}/{repo}/resolve/{REVISION}/{quote(name)}"
    try:
        with httpx.Client(timeout=HUB_TIMEOUT_S, trust_env=True) as client:
            response = _head(client, url)
    except httpx.TransportError as error:  # refused, timed out, no DNS, a proxy that is down
        raise HubUnreachable(f"{type(error).__name__}: {first_line(error)}") from None
    code = response.headers.get("X-Error-Code")
    if code == "EntryNotFound" or (response.status_code == 404 and code is None):
        return None
    if response.status_code == 401 or code in REFUSALS:
        why = REFUSALS.get(code or "RepoNotFound")
        raise ModelError(f"the hub at {endpoint()} refused {repo!r}: {why}")
    if response.status_code >= 400:
        raise ModelError(f"the hub at {endpoint()} answered {response.status_code} for {url}")
    return _remote(repo, name, url, response)


def _head(client: httpx.Client, url: str) -> httpx.Response:
    """HEAD ``url``, following redirects on the hub's own host (a renamed repo), not those to
    another host (the CDN holding LFS files: the answer before it says what they are)."""
    from huggingface_hub import get_token

    token = get_token()
    headers = {"Accept-Encoding": "identity", "User-Agent": "anyseek"}
    headers |= {"Authorization": f"Bearer {token}"} if token else {}
    for _ in range(MAX_REDIRECTS):
        response = client.head(url, headers=headers, follow_redirects=False)
        target = response.headers.get("Location")
        if not response.is_redirect or not target:
            return response
        target = urljoin(url, target)
        if not _same_host(target, url):
            return response
        url = target
    return response


def _remote(repo: str, name: str, url: str, response: httpx.Response) -> RemoteFile:
    """A file's description from the hub's answer to its HEAD request."""
    headers = response.headers
    commit = headers.get("X-Repo-Commit")
    etag = (headers.get("X-Linked-Etag") or headers.get("ETag") or "").removeprefix("W/")
    etag = etag.strip('"')
    if not _NAME.fullmatch(commit or "") or not _NAME.fullmatch(etag):  # both name files here
        raise ModelError(
            f"{url} answered with no usable X-Repo-Commit and ETag headers (a Hugging Face hub "
            f"sends a commit id and a content hash): is HF_ENDPOINT={endpoint()} a hub?"
        )
    size = headers.get("X-Linked-Size") or (
        None if response.is_redirect else headers.get("Content-Length")
    )
    location = urljoin(url, headers["Location"]) if response.is_redirect else url
    return RemoteFile(repo, name, location, commit, etag, int(size) if size else None)


def first_line(error: BaseException) -> str:
    """An exception's first line, short: what a one-line message quotes of it."""
    text = str(error).strip()
    return (text.splitlines()[0][:200] if text else type(error).__name__).rstrip(".")


def fetch(
    repo: str,
    names: Sequence[str],
    cache: Path,
    *,
    check: bool = False,
    progress: bool | None = False,
) -> HubFile | None:
    """The first of ``names`` the cache holds, else the first the repo has, downloaded into the
    cache; None when the repo has none of them. ``check``: a cached file is hashed again and
    downloaded anew when it no longer matches. ``progress``: a bar on stderr (None: when stderr
    is a terminal). Raises :class:`HubUnreachable` when a download is needed and the hub cannot
    be reached."""
    for name in names:  # offline first
        path = cached(repo, name, cache)
        if path is not None and (not check or _still_intact(path)):
            return HubFile(repo, name, path, path.stat().st_size, "checked" if check else "cached")
    for name in names:
        remote = describe(repo, name)
        if remote is not None:
            path = download(remote, cache, progress=progress)
            return HubFile(repo, name, path, path.stat().st_size, "downloaded")
    return None


def _still_intact(path: Path) -> bool:
    """Whether a cached file still hashes to the ETag its blob is named by; a file that does not
    is unlinked (blob and snapshot link) so that it is downloaded again."""
    blob = path.resolve()
    if blob.parent.name != "blobs" or not _checkable(blob.name):
        return True  # not in the hub layout (a copied file): nothing to check it against
    if _digest(blob, blob.name) == blob.name:
        return True
    blob.unlink()
    path.unlink(missing_ok=True)
    return False


def _checkable(etag: str) -> bool:
    """Whether an ETag is a content hash this module can check a file against."""
    return bool(_SHA256.fullmatch(etag) or _GIT_SHA1.fullmatch(etag))


def _digest(path: Path, etag: str) -> str:
    """The file's hash of the kind ``etag`` is: sha256 (LFS), or git's blob sha1."""
    if _SHA256.fullmatch(etag):
        digest = hashlib.sha256()
    else:
        digest = hashlib.sha1(usedforsecurity=False)
        digest.update(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as file:
        for block in iter(lambda: file.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def download(remote: RemoteFile, cache: Path, *, progress: bool | None = False) -> Path:
    """``remote``'s bytes into the cache, continuing a partial download, checked against its
    size and ETag, then linked where ``hf_hub_download`` finds it; returns that path."""
    from filelock import FileLock

    folder = repo_folder(cache, remote.repo)
    blob = folder / "blobs" / remote.etag
    part = blob.with_name(f"{remote.etag}.part")
    blob.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(f"{part}.lock"):  # two pulls of one file take turns
            if not blob.is_file():
                _transfer(remote, part, progress)
                _check(remote, part)
                os.replace(part, blob)
        return _link(folder, remote, blob)
    except OSError as error:  # a full disk, a read-only cache: said in one line
        raise write_failed(f"the download of {remote.name}", blob.parent, error) from None


def _transfer(remote: RemoteFile, part: Path, progress: bool | None) -> None:
    """Append the bytes ``part`` lacks (a Range request when it holds some); an interruption
    keeps what arrived and says how to continue."""
    from huggingface_hub import get_token
    from tqdm import tqdm

    have = part.stat().st_size if part.is_file() else 0
    if remote.size is not None and have >= remote.size:
        return
    token = get_token() if _same_host(remote.url, endpoint()) else None  # never to a CDN
    headers = {"Accept-Encoding": "identity", "User-Agent": "anyseek"}
    headers |= {"Authorization": f"Bearer {token}"} if token else {}
    if have:
        headers["Range"] = f"bytes={have}-"
    timeout = httpx.Timeout(READ_TIMEOUT_S, connect=HUB_TIMEOUT_S)
    bar = tqdm(
        total=remote.size,
        initial=have,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=remote.name,
        disable=None if progress is None else not progress,
    )
    try:
        with (
            httpx.stream(
                "GET", remote.url, headers=headers, timeout=timeout, follow_redirects=True
            ) as response,
        ):
            if response.status_code >= 400:
                raise ModelError(
                    f"the hub answered {response.status_code} for {remote.name} of {remote.repo}"
                )
            mode = "ab" if response.status_code == 206 else "wb"  # 200: the server sent it all
            if mode == "wb" and have:
                bar.reset(total=remote.size)
            with part.open(mode) as file:
                for block in response.iter_bytes():  # as they arrive: none lost
                    file.write(block)
                    bar.update(len(block))
    except httpx.TransportError as error:  # the network went away, or the server hung up
        have = part.stat().st_size if part.is_file() else 0
        raise HubUnreachable(
            f"the download of {remote.name} of {remote.repo} stopped at {have} of "
            f"{remote.size if remote.size is not None else '?'} bytes ({type(error).__name__}: "
            f"{first_line(error)}); what arrived is kept, and the same command continues it"
        ) from None
    finally:
        bar.close()


def _same_host(url: str, hub: str) -> bool:
    """Whether ``url`` is on the hub's own host (a token is sent there, never to a CDN)."""
    return urlparse(url).netloc == urlparse(hub).netloc


def _check(remote: RemoteFile, part: Path) -> None:
    """The downloaded bytes have the size and hash the hub declared, else they are removed."""
    size = part.stat().st_size
    if remote.size is not None and size != remote.size:
        wrong = f"{size} bytes where the hub declared {remote.size}"
    elif _checkable(remote.etag) and (got := _digest(part, remote.etag)) != remote.etag:
        kind = "sha256" if _SHA256.fullmatch(remote.etag) else "git sha1"
        wrong = f"{kind} {got} where the hub declared {remote.etag}"
    else:
        return
    part.unlink()
    raise ModelError(
        f"the download of {remote.name} of {remote.repo} is corrupted ({wrong}): it was removed "
        f"and nothing was added to the cache. Run the same command again; if it repeats, the hub "
        f"at {endpoint()} serves other bytes than it declares"
    )


def _link(folder: Path, remote: RemoteFile, blob: Path) -> Path:
    """Record the commit as ``main`` and link the snapshot's file to the blob (a copy where the
    file system has no symlinks), as huggingface_hub lays out its cache."""
    pointer = folder / "snapshots" / remote.commit / remote.name
    pointer.parent.mkdir(parents=True, exist_ok=True)
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / REVISION).write_text(remote.commit)
    if not pointer.exists():
        try:
            pointer.symlink_to(os.path.relpath(blob, pointer.parent))
        except OSError:
            shutil.copyfile(blob, pointer)
    return pointer
