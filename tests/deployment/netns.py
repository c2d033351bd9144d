"""Hosts on one machine: a Linux network namespace per host, wired by veth pairs to a bridge.

The bridge lives in a namespace of its own (the "switch"), so the machine's own network is touched
only by one veth whose address lies in a private /24 this network picked and checked unused: the
test process reaches every host through it, as an operator's machine would. A host is cut off by
taking its switch port down (its processes keep running, as on a pulled cable) and gone for good
when every process in it is killed and its port stays down. :meth:`Network.close` kills every
process of every host and deletes the namespaces and links, whatever state a test left them in.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from anyseek.cli.server_note import process_alive

IP = shutil.which("ip") or "/usr/sbin/ip"
#: one folder per live network, named by its tag, holding its owner's pid and its mounts: a run
#: killed before its cleanup is reaped by the next one (see :func:`reap_orphans`)
REGISTRY = Path("/run/anyseek-testbed")


def ip(*args: str, check: bool = True) -> str:
    """Run ``ip ARGS``; its output (raises with ip's message when ``check`` and it fails)."""
    done = subprocess.run([IP, *args], capture_output=True, text=True, timeout=30, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def why_not_available() -> str | None:
    """Why namespaces cannot be made here (None when they can): root and iproute2 are needed."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if not Path(IP).exists():
        return "iproute2's `ip` is not installed"
    probe = f"asprobe{os.getpid() % 10000}"
    try:
        ip("netns", "add", probe)
    except RuntimeError as error:
        return f"cannot make a network namespace: {error}"
    ip("netns", "del", probe, check=False)
    return None


def unused_subnet(rng: random.Random) -> str:
    """The first three octets of a 10.x.y.0/24 no interface of this machine uses."""
    used = ip("-o", "-4", "addr")
    for _ in range(200):
        prefix = f"10.{rng.randrange(100, 250)}.{rng.randrange(0, 256)}"
        if f" {prefix}." not in used:
            return prefix
    raise RuntimeError("no unused 10.x.y.0/24 found in 200 tries")


def reap_orphans() -> list[str]:
    """Remove the namespaces, links and mounts of networks whose owning process is dead."""
    reaped = []
    for entry in sorted(REGISTRY.glob("as*")) if REGISTRY.exists() else []:
        owner = int((entry / "owner").read_text() or 0) if (entry / "owner").exists() else 0
        if owner and process_alive(owner):
            continue
        tag = entry.name
        for line in ip("netns", "list", check=False).splitlines():
            namespace = line.split()[0] if line.split() else ""
            if namespace.startswith(f"{tag}-"):
                for pid in ip("netns", "pids", namespace, check=False).split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)
                ip("netns", "del", namespace, check=False)
        ip("link", "del", f"{tag}c0", check=False)
        mounts = entry / "mounts"
        for mount in mounts.read_text().split("\n") if mounts.exists() else []:
            if mount:
                subprocess.run(["umount", "-l", mount], capture_output=True, check=False)
        shutil.rmtree(entry, ignore_errors=True)
        reaped.append(tag)
    return reaped


@dataclass
class Host:
    """One host: its namespace, its address on the network, and the switch port it hangs on."""

    name: str
    namespace: str
    address: str
    switch_port: str
    switch: str
    processes: list[subprocess.Popen] = field(default_factory=list)

    def command(self, argv: list[str], user: str | None = None) -> list[str]:
        """``argv`` run inside this host (as ``user`` when given)."""
        as_user = ["runuser", "-u", user, "--"] if user else []
        return [IP, "netns", "exec", self.namespace, *as_user, *argv]

    def spawn(
        self, argv: list[str], env: dict[str, str], log: Path, user: str | None = None
    ) -> subprocess.Popen:
        """Start ``argv`` on this host in a session of its own, output appended to ``log``."""
        with log.open("ab") as out:
            process = subprocess.Popen(
                self.command(argv, user),
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def run(
        self,
        argv: list[str],
        env: dict[str, str] | None = None,
        user: str | None = None,
        timeout: float = 120,
    ) -> str:
        """Run ``argv`` on this host to completion; its output (raises when it fails)."""
        done = subprocess.run(
            self.command(argv, user),
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{self.name}: {' '.join(argv)}: {done.stdout}{done.stderr}")
        return done.stdout

    def cut(self) -> None:
        """Pull the cable: the host's switch port goes down; its processes keep running."""
        ip("-n", self.switch, "link", "set", self.switch_port, "down")

    def reconnect(self) -> None:
        """Plug the cable back in."""
        ip("-n", self.switch, "link", "set", self.switch_port, "up")

    def pids(self) -> list[int]:
        """Every process running in this host's namespace."""
        return [int(pid) for pid in ip("netns", "pids", self.namespace, check=False).split()]

    def kill_all(self) -> None:
        """kill -9 every process of this host (the host dies; its disk is left as it was)."""
        for _ in range(5):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            for process in self.processes:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=5)
        self.processes = [p for p in self.processes if p.poll() is None]


class Network:
    """A switch and hosts in a private /24; the test process is ``.1`` on it."""

    def __init__(self, seed: int | None = None) -> None:
        reap_orphans()
        rng = random.Random(seed)
        self.tag = f"as{rng.randrange(16**4):04x}"
        self.record = REGISTRY / self.tag
        self.record.mkdir(parents=True)
        (self.record / "owner").write_text(str(os.getpid()))
        self.switch = f"{self.tag}-sw"
        self.prefix = unused_subnet(rng)
        self.hosts: dict[str, Host] = {}
        self.control_link = f"{self.tag}c0"
        ip("netns", "add", self.switch)
        try:
            ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
            ip("-n", self.switch, "link", "set", "br0", "up")
            self._plug(self.control_link, None, f"{self.prefix}.1")
        except Exception:
            self.close()
            raise

    def _plug(self, link: str, namespace: str | None, address: str) -> str:
        """A veth from ``namespace`` (None: this machine) to the bridge; the switch-side name."""
        port = f"{link}s"
        ip("link", "add", link, "type", "veth", "peer", "name", port)
        ip("link", "set", port, "netns", self.switch)
        ip("-n", self.switch, "link", "set", port, "master", "br0")
        ip("-n", self.switch, "link", "set", port, "up")
        inside = ["-n", namespace] if namespace else []
        if namespace:
            ip("link", "set", link, "netns", namespace)
            ip(*inside, "link", "set", "lo", "up")
        ip(*inside, "addr", "add", f"{address}/24", "dev", link)
        ip(*inside, "link", "set", link, "up")
        return port

    def add_host(self, name: str) -> Host:
        """A new host with the next address."""
        number = len(self.hosts) + 2
        namespace = f"{self.tag}-{name}"
        ip("netns", "add", namespace)
        address = f"{self.prefix}.{number}"
        port = self._plug(f"{self.tag}h{number}", namespace, address)
        host = Host(name, namespace, address, port, self.switch)
        self.hosts[name] = host
        return host

    def note_mount(self, folder: Path) -> None:
        """Remember a mount of this network's, for :func:`reap_orphans`."""
        with (self.record / "mounts").open("a") as out:
            out.write(f"{folder}\n")

    def close(self) -> None:
        """Kill every host's processes, delete the namespaces and the control link."""
        for host in self.hosts.values():
            host.kill_all()
            ip("netns", "del", host.namespace, check=False)
        ip("link", "del", self.control_link, check=False)
        ip("netns", "del", self.switch, check=False)
        self.hosts.clear()
        shutil.rmtree(self.record, ignore_errors=True)
