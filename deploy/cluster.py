"""N app processes behind HAProxy on loopback, for tests and trials; stops them all cleanly.

    python -m deploy.cluster --replicas 3 --port 8501     # then open http://127.0.0.1:8501

Starts `streamlit run app.py` N times on free loopback ports, each in its own process group,
writes a haproxy.cfg for them (deploy/haproxy.py) into a temporary folder, starts HAProxy on
127.0.0.1:<port>, and waits until every process answers its health check directly and the
balancer answers one too. Stopping sends SIGTERM to every process group, then SIGKILL to any
still there after a grace period; it runs on leaving the `with` block, at interpreter exit, and
(from the command line) on SIGINT / SIGTERM. Only loopback addresses are used.
"""

import argparse
import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from deploy.haproxy import COOKIE, HEALTH, MAXCONN, config

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
GRACE_S = 10.0  # SIGTERM, then this long before SIGKILL


def free_port() -> int:
    """A loopback TCP port that is free right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(p, os.X_OK)),
        None,
    )


def healthy(base: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(base + HEALTH, timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def stop_group(proc: subprocess.Popen, grace: float = GRACE_S) -> None:
    """SIGTERM to proc's process group, SIGKILL after `grace` seconds; reaps proc."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        if proc.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait)
    with contextlib.suppress(ProcessLookupError):  # anything the leader left in its group
        os.killpg(proc.pid, signal.SIGKILL)


@dataclass
class Replica:
    name: str  # HAProxy's server name, the affinity cookie's value
    port: int
    proc: subprocess.Popen
    log: Path

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"


@dataclass
class Cluster:
    """`with Cluster(2) as c:` -> c.base is the balancer; c.replicas the app processes."""

    replicas_wanted: int = 2
    port: int = 0  # the balancer's; 0: a free one
    logs: Path = ROOT / "artifacts" / "cluster"
    env: dict = field(default_factory=dict)  # extra environment for the app processes
    maxconn: int = MAXCONN
    timeout_s: float = 90.0
    replicas: list[Replica] = field(default_factory=list)
    balancer: subprocess.Popen | None = None
    workdir: Path | None = None

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def replica(self, name: str) -> Replica:
        return next(r for r in self.replicas if r.name == name)

    def __enter__(self) -> "Cluster":
        haproxy = haproxy_binary()
        if haproxy is None:
            raise RuntimeError("haproxy is not installed (Debian: apt-get install -y haproxy)")
        atexit.register(self.stop)
        try:
            self._start(haproxy)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _start(self, haproxy: str) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        for i in range(self.replicas_wanted):
            self.replicas.append(self._start_app(f"r{i}", free_port()))
        self.workdir = Path(tempfile.mkdtemp(prefix="lle-haproxy-"))
        cfg = self.workdir / "haproxy.cfg"
        servers = [f"{HOST}:{r.port}" for r in self.replicas]
        cfg.write_text(config(servers, f"{HOST}:{self.port}", self.maxconn))
        self._wait(lambda: all(healthy(r.base) for r in self.replicas), "the app processes")
        with open(self.logs / "haproxy.log", "wb") as log:
            self.balancer = subprocess.Popen(
                [haproxy, "-db", "-f", str(cfg)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait(lambda: healthy(self.base), "haproxy")

    def _start_app(self, name: str, port: int) -> Replica:
        cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
        cmd += ["--server.address", HOST, "--server.headless", "true"]
        cmd += ["--browser.gatherUsageStats", "false"]
        log = self.logs / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                start_new_session=True,  # its own process group: stopped as a whole
            )
        return Replica(name, port, proc, log)

    def _wait(self, ready, what: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        while not ready():
            dead = [r.name for r in self.replicas if r.proc.poll() is not None]
            if self.balancer is not None and self.balancer.poll() is not None:
                dead.append("haproxy")
            if dead or time.monotonic() > deadline:
                tails = {p.name: p.read_text(errors="replace")[-1500:] for p in self._logs()}
                raise RuntimeError(f"{what} did not become healthy (ended: {dead}): {tails}")
            time.sleep(0.2)

    def _logs(self) -> list[Path]:
        return [
            p for p in [*(r.log for r in self.replicas), self.logs / "haproxy.log"] if p.exists()
        ]

    def kill(self, name: str) -> None:
        """SIGKILL the replica `name` and its process group (a crash, not a shutdown)."""
        r = self.replica(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(r.proc.pid, signal.SIGKILL)
        r.proc.wait(timeout=10)

    def pids(self) -> list[int]:
        """The app processes still running."""
        return [r.proc.pid for r in self.replicas if r.proc.poll() is None]

    def stop(self) -> None:
        """Balancer first (no new connections), then every app process; idempotent."""
        if self.balancer is not None:
            stop_group(self.balancer, grace=5.0)
        for r in self.replicas:
            stop_group(r.proc)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        atexit.unregister(self.stop)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.cluster", description=__doc__)
    parser.add_argument("--replicas", type=int, default=2, help="app processes (1..16)")
    parser.add_argument("--port", type=int, default=8501, help="the balancer's loopback port")
    parser.add_argument("--maxconn", type=int, default=MAXCONN, help="connections per process")
    args = parser.parse_args()

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    with Cluster(min(max(args.replicas, 1), 16), args.port, maxconn=args.maxconn) as c:
        for r in c.replicas:
            print(f"{r.name}: {r.base} (pid {r.proc.pid}, log {r.log})")
        print(f"balancer: {c.base} (affinity cookie {COOKIE}); Ctrl-C stops everything")
        try:
            while all(p.poll() is None for p in [c.balancer, *(r.proc for r in c.replicas)]):
                time.sleep(1.0)
            print("a process ended; stopping the rest")
            return 1
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
