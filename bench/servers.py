"""Start, probe and stop the servers that the benchmarks and the load test talk to.

Every server listens on a free port of 127.0.0.1 and runs in its own process group, so
that stopping it also ends its workers; ``running`` stops it whatever happens.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
BIN = Path(sys.executable).parent
"""The virtual environment's scripts (gunicorn, granian, medfeed) sit beside its python."""


def tool(name: str) -> str:
    """The path of a program: the running Python's environment first, then PATH.

    Raises:
        FileNotFoundError: neither has it.
    """
    local = BIN / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        raise FileNotFoundError(f"{name}: not installed")
    return found


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def medfeed_env(entries: Path, port: int) -> dict[str, str]:
    """This process's environment with the medfeed settings of a server on ``port``.

    The state folder lies beside the entries (``state_beside``), in the benchmark's own
    temporary folder: the default one, in the system's, would outlive the run with an
    entry cache of 600 MB at 100,000 entries."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDFEED_")}
    env["MEDFEED_ENTRIES"] = str(entries)
    env["MEDFEED_BASE_URL"] = f"http://{HOST}:{port}/"
    env["MEDFEED_STATE_DIR"] = str(state_beside(entries))
    return env


def state_beside(entries: Path) -> Path:
    """The state folder of a benchmark's entries: beside them, in its temporary folder."""
    return entries.with_name(entries.name + ".state")


def gunicorn_argv(app: str, port: int, workers: int = 2) -> list[str]:
    """gunicorn as the README runs it: sync workers, no preload, no access log."""
    return [
        tool("gunicorn"), "-w", str(workers), "-k", "sync", "-b", f"{HOST}:{port}",
        "--log-level", "warning", app,
    ]  # fmt: skip


def _exited(pid: int) -> bool:
    # WNOWAIT leaves the exit status to Popen.wait, and keeps the process group id
    # reserved until then, so that killpg can only reach our own processes.
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


@dataclass
class Server:
    """A server process we started."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def url(self, path: str = "/") -> str:
        return f"http://{HOST}:{self.port}{path}"

    def exited(self) -> bool:
        return self.process.returncode is not None or _exited(self.process.pid)

    def stop(self, timeout: float = 10.0, sig: int = signal.SIGTERM) -> tuple[int, bool]:
        """Ask the server to stop; kill its group after ``timeout`` s.

        Returns the exit status and whether it had to be killed.
        """
        if self.process.returncode is not None:
            return self.process.returncode, False
        pid = self.process.pid
        if not _exited(pid):
            with suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while not _exited(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        forced = not _exited(pid)
        # Workers left behind, or the whole group if it would not stop.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        return self.process.wait(), forced

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def start(
    name: str,
    argv: Sequence[str],
    port: int,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path = REPO,
) -> Server:
    """Start a server in a new process group, its output going to ``log``."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(name, process, port, log)


def get(
    url: str, headers: Mapping[str, str] | None = None, timeout: float = 10.0
) -> tuple[int, dict[str, str], bytes]:
    """GET a URL on a new connection: status, headers (lower-case names), body."""
    rest = url.removeprefix("http://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    conn = http.client.HTTPConnection(host, int(port or 80), timeout=timeout)
    try:
        conn.request("GET", "/" + path, headers=dict(headers or {}))
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def wait_ready(server: Server, path: str, timeout: float, interval: float = 0.02) -> float:
    """Poll ``path`` every ``interval`` s until it answers 200; the seconds it took.

    Raises:
        RuntimeError: the server exited, or did not answer 200 within ``timeout`` s.
    """
    started = time.perf_counter()
    deadline = started + timeout
    while True:
        if server.exited():
            raise RuntimeError(f"{server.name} exited before serving:\n{server.log_tail()}")
        with suppress(OSError):
            if get(server.url(path), timeout=2.0)[0] == 200:
                return time.perf_counter() - started
        if time.perf_counter() > deadline:
            raise RuntimeError(
                f"{server.name}: no 200 for {path} in {timeout:.0f} s\n{server.log_tail()}"
            )
        time.sleep(interval)


@contextmanager
def running(
    name: str,
    argv: Sequence[str],
    port: int,
    log: Path,
    env: Mapping[str, str] | None = None,
    *,
    ready_path: str = "/feed.atom",
    timeout: float = 60.0,
    cwd: Path = REPO,
) -> Iterator[Server]:
    """A started server, ready to answer ``ready_path``; stopped on leaving."""
    server = start(name, argv, port, log, env, cwd)
    try:
        wait_ready(server, ready_path, timeout)
        yield server
    finally:
        server.stop()


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (gunicorn's workers), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            found.extend(int(c) for c in (task / "children").read_text().split())
    return sorted(set(found))


def rss_mib(pid: int) -> float:
    """Resident memory of a process, from /proc/<pid>/status (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def memory_mib(pid: int) -> tuple[float, float]:
    """Resident and proportional set size of a process (pages it shares with others
    counted in part), from /proc/<pid>/smaps_rollup."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss"):
            found[name] = int(rest.split()[0]) / 1024
    return found["Rss"], found["Pss"]


def feed_paths(folder: Path) -> list[str]:
    """Every feed of the site: all entries and each category, in both formats."""
    site = tomllib.loads((folder / "site.toml").read_text(encoding="utf-8"))
    prefixes = ["/", *(f"/categories/{c['slug']}/" for c in site.get("categories", []))]
    return [f"{prefix}feed.{fmt}" for prefix in prefixes for fmt in ("atom", "rss")]


def warm(server: Server, paths: Sequence[str], rounds: int = 8) -> None:
    """Ask for every feed in every encoding, four at a time so that both workers answer."""
    encodings = ("identity", "gzip", "br")
    jobs = [(p, e) for _ in range(rounds) for p in paths for e in encodings]
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(
            lambda job: get(server.url(job[0]), {"Accept-Encoding": job[1]})[0], jobs
        ))  # fmt: skip
    if set(statuses) != {200}:
        raise RuntimeError(f"warming got statuses {sorted(set(statuses))}")
