"""Log lines with time, pid and level; each problem logged once per folder when it appears
and when it is fixed, by one elected process, under a real gunicorn too."""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import IO

import pytest

from conftest import WriteEntry
from medfeed.coordination import Leader, claim_once, process_start_time, wait_until_gone
from medfeed.errors import Problem
from medfeed.logs import ProblemLog, configure_logging, problem_log

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(
    r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4})\] \[(\d+)\] \[([A-Z]+)\] (.*)$", re.M
)
"""gunicorn's error-log line: [time] [pid] [LEVEL] message."""
BROKEN = Problem("entries/broken.json", "", "is not valid JSON")
OTHER = Problem("entries/other.json", "title", "is required")


class FakeLeader(Leader):
    """A leader whose election the test decides."""

    def __init__(self, leading: bool = True) -> None:
        super().__init__(Path("/nonexistent/lock"))
        self.leading = leading
        self.asked = 0

    def is_leader(self) -> bool:
        self.asked += 1
        return self.leading


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Callable[[], list[tuple[str, str]]]:
    caplog.set_level(logging.INFO, logger="test.problems")

    def read() -> list[tuple[str, str]]:
        found = [(r.levelname, r.getMessage()) for r in caplog.records]
        caplog.clear()
        return found

    return read


def test_the_leader_logs_problems_when_they_appear_and_when_they_are_fixed(
    records: Callable[[], list[tuple[str, str]]],
) -> None:
    log = ProblemLog(FakeLeader(), logging.getLogger("test.problems"))
    log.update([BROKEN])
    assert records() == [("WARNING", str(BROKEN))]
    log.update([BROKEN])
    log.update([BROKEN])
    assert records() == []
    log.update([BROKEN, OTHER])
    assert records() == [("WARNING", str(OTHER))]
    log.update([OTHER])
    assert records() == [("INFO", f"fixed: {BROKEN}")]
    log.update([])
    assert records() == [("INFO", f"fixed: {OTHER}")]


def test_other_processes_stay_silent_and_do_not_ask_when_nothing_changed(
    records: Callable[[], list[tuple[str, str]]],
) -> None:
    leader = FakeLeader(leading=False)
    log = ProblemLog(leader, logging.getLogger("test.problems"))
    log.update([])
    assert leader.asked == 0
    log.update([BROKEN])
    log.update([BROKEN])
    log.update([])
    assert records() == []
    assert leader.asked == 2


def test_a_newly_elected_process_logs_the_standing_problems_once_more(
    records: Callable[[], list[tuple[str, str]]],
) -> None:
    leader = FakeLeader(leading=False)
    log = ProblemLog(leader, logging.getLogger("test.problems"))
    log.update([BROKEN])
    assert records() == []
    leader.leading = True  # the old leader exited
    log.update([BROKEN, OTHER])
    assert records() == [("WARNING", str(BROKEN)), ("WARNING", str(OTHER))]
    log.update([OTHER])
    assert records() == [("INFO", f"fixed: {BROKEN}")]


def test_every_process_logs_when_the_lock_cannot_be_used(
    tmp_path: Path, records: Callable[[], list[tuple[str, str]]]
) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    leader = Leader(tmp_path / "file" / "problems.lock")
    log = ProblemLog(leader, logging.getLogger("test.problems"))
    log.update([BROKEN])
    assert leader.error is not None
    lines = records()
    assert lines[0][0] == "WARNING" and "every process logs problems" in lines[0][1]
    assert lines[1:] == [("WARNING", str(BROKEN))]
    log.update([])
    assert records() == [("INFO", f"fixed: {BROKEN}")]


# The election


def test_one_leader_at_a_time_and_the_next_one_takes_over(tmp_path: Path) -> None:
    lock = tmp_path / "state" / "problems.lock"
    first, second = Leader(lock), Leader(lock)
    assert first.is_leader() and first.is_leader()
    assert not second.is_leader()
    assert (lock.parent.stat().st_mode & 0o777, lock.stat().st_mode & 0o777) == (0o700, 0o600)
    first.resign()
    assert second.is_leader()
    assert not first.is_leader()
    del second  # dropped without resigning: the lock goes with it
    assert first.is_leader()


def test_the_lead_passes_on_when_the_leading_process_dies(tmp_path: Path) -> None:
    lock = tmp_path / "problems.lock"
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from medfeed.coordination import Leader\n"
        "leader = Leader(Path(sys.argv[1]))\n"
        "print(leader.is_leader(), flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(lock)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "True\n"
        mine = Leader(lock)
        assert not mine.is_leader()
        child.kill()
        child.wait(timeout=10)
        assert mine.is_leader()
    finally:
        child.kill()
        child.wait(timeout=10)
        if child.stdout:
            child.stdout.close()


def test_forked_children_elect_one_of_their_own(tmp_path: Path) -> None:
    # As under a preloading gunicorn master: the parent led, its children serve.
    script = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from medfeed.coordination import Leader\n"
        "parent = Leader(Path(sys.argv[1]))\n"
        "assert parent.is_leader()\n"
        "def ask(hold):\n"
        "    read_end, write_end = os.pipe()\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        os.write(write_end, b'1' if parent.is_leader() else b'0')\n"
        "        time.sleep(hold)\n"
        "        os._exit(0)\n"
        "    answer = os.read(read_end, 1).decode()\n"
        "    return pid, answer\n"
        "first, second = ask(1.0), ask(0.0)\n"
        "for pid, _ in (first, second):\n"
        "    os.waitpid(pid, 0)\n"
        "print(first[1], second[1], 'parent', parent.is_leader())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "problems.lock")],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert done.stdout.split() == ["1", "0", "parent", "True"]


def test_a_claim_is_made_once_since_a_moment(tmp_path: Path) -> None:
    marker = tmp_path / "runtime" / "start-1"
    before, me = time.time(), os.getpid()
    assert claim_once(marker, before) == me
    marker.write_text(f"{time.time()} 4242", encoding="ascii")
    assert claim_once(marker, before) == 4242
    assert claim_once(marker, time.time() + 1) == me
    marker.write_text("garbage", encoding="ascii")
    assert claim_once(marker, before) == me
    assert (marker.parent.stat().st_mode & 0o777, marker.stat().st_mode & 0o777) == (0o700, 0o600)


def test_waiting_for_a_process_to_be_gone(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    assert not wait_until_gone(child.pid, 0.01)
    child.wait(timeout=10)
    assert wait_until_gone(child.pid, 5)


def test_the_process_start_time_is_known() -> None:
    started = process_start_time()
    if started is None:
        pytest.skip("/proc/self/stat is not available here")
    assert time.time() - 3600 * 24 < started <= time.time()


def test_a_start_failure_is_logged_once_among_siblings(tmp_path: Path) -> None:
    # Three workers of one master fail alike: one says why and exits with status 3; the
    # others wait until it is gone, then exit 0 (as gunicorn stops, another 3 would
    # crash it) where gunicorn's log is set up, 3 elsewhere.
    script = (
        "import logging, os, sys\n"
        "from medfeed.errors import Problem\n"
        "from medfeed.logs import DATE_FORMAT, LINE_FORMAT, configure_logging\n"
        "from medfeed.logs import exit_for_start_failure\n"
        "if sys.argv[1] == 'gunicorn':\n"
        "    handler = logging.StreamHandler()\n"
        "    handler.setFormatter(logging.Formatter(LINE_FORMAT, DATE_FORMAT))\n"
        "    logging.getLogger('gunicorn.error').addHandler(handler)\n"
        "configure_logging()\n"
        "read_end, write_end = os.pipe()\n"
        "pids = []\n"
        "for _ in range(3):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        os.read(read_end, 1)\n"
        "        try:\n"
        "            exit_for_start_failure([Problem('MEDFEED_WATCH', '', 'bad')])\n"
        "        except SystemExit as e:\n"
        "            os._exit(e.code)\n"
        "    pids.append(pid)\n"
        "os.write(write_end, b'go!')\n"
        "statuses = []\n"
        "while pids:\n"
        "    pid, status = os.wait()\n"
        "    pids.remove(pid)\n"
        "    statuses.append(os.waitstatus_to_exitcode(status))\n"
        "print(*statuses)\n"
    )
    for server, others in (("gunicorn", "0"), ("other", "3")):
        done = subprocess.run(
            [sys.executable, "-c", script, server],
            capture_output=True, text=True, timeout=60, check=True,
            env={**os.environ, "TMPDIR": str(tmp_path / server)},
        )  # fmt: skip
        lines = LINE.findall(done.stderr)
        assert [(level, message) for _, _, level, message in lines] == [
            ("ERROR", "medfeed cannot start: MEDFEED_WATCH: bad")
        ], done.stderr
        assert done.stdout.split() == ["3", others, others]


# Log set-up


def test_log_lines_carry_time_pid_and_level(tmp_path: Path) -> None:
    script = (
        "import logging, os\n"
        "from medfeed.logs import configure_logging\n"
        "assert configure_logging()\n"
        "assert not configure_logging()\n"
        "logging.getLogger('medfeed').info('hello from %d', os.getpid())\n"
        "logging.getLogger('medfeed.web').warning('a child logger')\n"
        "logging.getLogger('other').info('not shown: other libraries log warnings only')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=True
    )
    found = LINE.findall(done.stderr)
    assert len(found) == 2 == len(done.stderr.splitlines()), done.stderr
    (_, pid, level, message), (_, _, level2, message2) = found
    assert (level, message) == ("INFO", f"hello from {pid}")
    assert (level2, message2) == ("WARNING", "a child logger")


def test_logging_set_up_by_someone_else_is_left_alone() -> None:
    # The test runner has set up logging: medfeed adds nothing.
    before = list(logging.getLogger().handlers)
    assert before
    assert not configure_logging()
    assert logging.getLogger().handlers == before


def test_a_publisher_logs_through_the_lock_of_its_state_folder(tmp_path: Path) -> None:
    log = problem_log(tmp_path / "state")
    assert log.leader.path == tmp_path / "state" / "problems.lock"


# Under gunicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Gunicorn:
    """gunicorn -w 2 serving an entries folder on 127.0.0.1, its log in a file."""

    def __init__(self, entries: Path, work: Path) -> None:
        self.port = free_port()
        self.log = work / "gunicorn.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDFEED_")}
        env |= {
            "MEDFEED_ENTRIES": str(entries),
            "MEDFEED_BASE_URL": f"http://127.0.0.1:{self.port}/",
            "MEDFEED_STATE_DIR": str(work / "state"),
            "XDG_RUNTIME_DIR": str(work),  # gunicorn's control socket
        }
        argv = ["-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{self.port}", "wsgi:app"]
        self.out: IO[bytes] = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, *argv],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self.out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def lines(self, start: str) -> list[tuple[str, str, str, str]]:
        return [line for line in LINE.findall(self.text()) if line[3].startswith(start)]

    def get(self, path: str) -> int:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                response.read()
                return int(response.status)
        except OSError:
            return 0

    def traffic(self) -> None:
        """Requests in parallel, so that every worker serves (and so watches the folder)."""
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(self.get, ["/healthz", "/feed.atom", "/"] * 8))

    def wait_for(self, done: Callable[[], bool], what: str, seconds: float = 20.0) -> None:
        deadline = time.monotonic() + seconds
        while not done():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"no {what} within {seconds} s:\n{self.text()[-3000:]}")
            self.traffic()
            time.sleep(0.1)

    def settle(self, seconds: float = 1.5) -> None:
        """Give any duplicate line time to appear."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.traffic()
            time.sleep(0.1)

    def stop(self) -> None:
        with suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.out.close()


@pytest.fixture
def gunicorn(entries_dir: Path, tmp_path: Path) -> Iterator[Callable[[], Gunicorn]]:
    pytest.importorskip("gunicorn")
    servers: list[Gunicorn] = []

    def start() -> Gunicorn:
        servers.append(Gunicorn(entries_dir, tmp_path))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def test_gunicorn_workers_log_each_problem_once_and_hand_the_lead_on(
    gunicorn: Callable[[], Gunicorn], entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry()
    broken = entries_dir / "broken.json"
    broken.write_text("{", encoding="utf-8")
    server = gunicorn()
    server.wait_for(lambda: server.get("/healthz") == 200, "answer")
    server.settle()

    problems = server.lines("entries/broken.json: is not valid JSON")
    assert len(problems) == 1, server.text()
    stamp, leader, level, _ = problems[0]
    assert level == "WARNING" and time.strptime(stamp, "%Y-%m-%d %H:%M:%S %z")
    assert int(leader) != server.process.pid

    write_entry("broken")
    server.wait_for(lambda: bool(server.lines("fixed: ")), "fixed line")
    server.settle()
    fixed = server.lines("fixed: entries/broken.json: is not valid JSON")
    assert [(pid, level) for _, pid, level, _ in fixed] == [(leader, "INFO")], server.text()

    # The leader dies; gunicorn starts another worker; the next process to see a
    # change takes the lead.
    os.kill(int(leader), signal.SIGKILL)
    server.wait_for(lambda: len(server.lines("Booting worker")) == 3, "new worker")
    server.settle()
    broken.write_text('{"title": ', encoding="utf-8")
    server.wait_for(lambda: len(server.lines("entries/broken.json: is not")) == 2, "problem")
    server.settle()
    problems = server.lines("entries/broken.json: is not valid JSON")
    assert len(problems) == 2, server.text()
    successor = problems[1][1]
    assert successor not in (leader, str(server.process.pid))

    write_entry("broken")
    server.wait_for(lambda: len(server.lines("fixed: ")) == 2, "second fixed line")
    server.settle()
    fixed = server.lines("fixed: entries/broken.json")
    assert [pid for _, pid, _, _ in fixed] == [leader, successor], server.text()
    assert "Traceback" not in server.text()
