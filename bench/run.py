"""medfeed's performance figures, each measured side by side with its baseline in one run.

Usage:
    .venv/bin/python bench/run.py            # 1,000 and 10,000 entries, 10 s wrk runs (~10 min)
    .venv/bin/python bench/run.py --smoke    # 200 entries, 2 s wrk runs (under a minute)

Prints a Markdown report and writes it to bench/results.md (``--out`` to change). Needs
wrk, nginx and hugo on PATH, gunicorn (and granian, optional) in the Python environment
that runs this script. Every server listens on 127.0.0.1 and is stopped at the end; the
generated folders live in one temporary folder that is removed.

Exit status: 0 when every section ran without errors (a missed target is reported, not
an error); 1 when a section failed, a sanity check failed or wrk saw errors.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from generate import generate
from hugo_site import convert
from servers import (
    REPO,
    Server,
    children,
    feed_paths,
    free_port,
    get,
    gunicorn_argv,
    medfeed_env,
    rss_mib,
    running,
    start,
    state_beside,
    tool,
    wait_ready,
    warm,
)

from medfeed.settings import Settings
from medfeed.site import Publisher

BENCH = REPO / "bench"
WRK_THREADS, WRK_CONNECTIONS = 2, 32
LIVE_MIN_ENTRIES = 10_000
"""bench/live.py edits entry-09999.json, so it needs at least this many entries."""


# --- plan and report --------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """How much to measure."""

    name: str
    sizes: tuple[int, ...]
    wrk_seconds: int
    rounds: int
    """Runs of each side of a comparison, alternated; the best run counts."""
    build_runs: int
    startup_runs: int
    live_idle: float


FULL = Plan("full", (1_000, 10_000), wrk_seconds=10, rounds=2, build_runs=3, startup_runs=3,
            live_idle=10.0)  # fmt: skip
SMOKE = Plan("smoke", (200,), wrk_seconds=2, rounds=1, build_runs=3, startup_runs=2,
             live_idle=0.0)  # fmt: skip


@dataclass
class Section:
    """One table of the report, with its notes."""

    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failed: bool = False

    def markdown(self) -> str:
        lines = [f"## {self.title}", ""]
        if self.rows:
            lines.append("| " + " | ".join(self.headers) + " |")
            lines.append("|" + "---|" * len(self.headers))
            lines.extend("| " + " | ".join(row) + " |" for row in self.rows)
            lines.append("")
        lines.extend(f"- {note}" for note in self.notes)
        return "\n".join(lines).rstrip() + "\n"


@dataclass
class Report:
    sections: list[Section] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)

    def target(
        self, what: str, value: float, limit: float, *, at_least: bool, unit: str = ""
    ) -> str:
        """Record a target; its verdict for a table cell."""
        met = value >= limit if at_least else value <= limit
        sign = "≥" if at_least else "≤"
        verdict = "met" if met else "**MISSED**"
        self.targets.append(f"{what}: {value:.2f}{unit} (target {sign} {limit:g}{unit}): {verdict}")
        return verdict

    def failed(self) -> bool:
        return any(s.failed for s in self.sections)


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def fmt_seconds(value: float) -> str:
    return f"{value:.2f} s"


# --- machine ----------------------------------------------------------------------------------


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def version_of(argv: Sequence[str], pattern: str) -> str:
    """A tool's version from its output, or why there is none."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"
    found = re.search(pattern, done.stdout + done.stderr)
    return found.group(1) if found else "unknown"


def granian_path() -> str | None:
    try:
        return tool("granian")
    except FileNotFoundError:
        return None


def machine_section(plan: Plan) -> Section:
    section = Section("Machine", ["what", "value"])
    granian = granian_path()
    section.rows = [
        ["CPU", cpu_model()],
        ["cores", str(os.cpu_count())],
        ["Python", f"{platform.python_version()} ({sys.executable})"],
        ["kernel", platform.release()],
        ["gunicorn", version_of([tool("gunicorn"), "--version"], r"gunicorn \(version ([\w.]+)")],
        ["granian", version_of([granian, "--version"], r"granian ([\w.]+)") if granian
         else "not installed"],
        ["nginx", version_of([tool("nginx"), "-v"], r"nginx/([\w.]+)")],
        ["hugo", version_of([tool("hugo"), "version"], r"v([\d.]+)")],
        ["wrk", version_of([tool("wrk"), "--version"], r"wrk ([\S]+)")],
        ["mode", f"{plan.name}: {', '.join(f'{n:,}' for n in plan.sizes)} entries, "
                 f"wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{plan.wrk_seconds}s, "
                 f"{plan.rounds} alternated run(s) per side"],
    ]  # fmt: skip
    section.notes.append(
        f"wrk runs on the same {os.cpu_count()} cores as the servers it measures, and its "
        f"{WRK_CONNECTIONS} connections compete with them for CPU: figures are for comparing "
        "the two sides of a row, measured in the same run, not absolute capacities."
    )
    return section


# --- wrk --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    rate: float
    requests: int
    bad_status: int
    """wrk's "Non-2xx or 3xx responses"."""
    socket_errors: int

    @property
    def errors(self) -> int:
        return self.bad_status + self.socket_errors


def parse_wrk(output: str) -> WrkResult:
    """Read wrk's summary.

    Raises:
        RuntimeError: there is no "Requests/sec:" line.
    """
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if rate is None:
        raise RuntimeError(f"wrk printed no rate:\n{output}")
    requests = re.search(r"(\d+) requests in", output)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        rate=float(rate.group(1)),
        requests=int(requests.group(1)) if requests else 0,
        bad_status=int(bad.group(1)) if bad else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
    )


def wrk(url: str, seconds: int, headers: Mapping[str, str]) -> WrkResult:
    argv = [tool("wrk"), f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    done = subprocess.run(
        [*argv, url], capture_output=True, text=True, timeout=seconds + 30, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


@dataclass
class Runs:
    results: list[WrkResult] = field(default_factory=list)

    @property
    def best(self) -> float:
        return max(r.rate for r in self.results)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.results)

    def cell(self) -> str:
        text = fmt_rate(self.best)
        if len(self.results) > 1:
            text += " (" + ", ".join(fmt_rate(r.rate) for r in self.results) + ")"
        if self.errors:
            text += f" ⚠ {self.errors} errors"
        return text


def alternate(urls: Mapping[str, str], headers: Mapping[str, str], plan: Plan) -> dict[str, Runs]:
    """wrk on each URL in turn, ``plan.rounds`` times: A, B, A, B."""
    runs = {name: Runs() for name in urls}
    for _ in range(plan.rounds):
        for name, url in urls.items():
            runs[name].results.append(wrk(url, plan.wrk_seconds, headers))
    return runs


def check_status(section: Section, name: str, url: str, headers: Mapping[str, str],
                 expected: int) -> None:  # fmt: skip
    """Fail the section (and say why) unless ``url`` answers ``expected``."""
    status = get(url, headers)[0]
    if status != expected:
        section.failed = True
        section.notes.append(f"⚠ {name} answered {status}, expected {expected}, for {headers}")


def note_errors(section: Section, runs: Mapping[str, Runs]) -> None:
    for name, run in runs.items():
        if run.errors:
            section.failed = True
            section.notes.append(
                f"⚠ wrk saw errors against {name}: "
                + "; ".join(
                    f"{r.bad_status} non-2xx/3xx, {r.socket_errors} socket errors"
                    for r in run.results
                )  # fmt: skip
            )


@dataclass(frozen=True)
class Probe:
    """One kind of request, sent alike to both sides of a comparison."""

    label: str
    headers: dict[str, str]
    expected: dict[str, int]
    """The status each side must answer."""
    target: float | None = None
    """The least acceptable ratio of the first side's rate to the second's."""


def compare(section: Section, report: Report, plan: Plan, count: int, urls: Mapping[str, str],
            probe: Probe) -> None:  # fmt: skip
    """Check statuses, run wrk on each side alternately, and add a row: rates and ratio."""
    for name, url in urls.items():
        check_status(section, name, url, probe.headers, probe.expected[name])
    runs = alternate(urls, probe.headers, plan)
    note_errors(section, runs)
    first, second = (runs[name] for name in urls)
    ratio = first.best / second.best
    row = [f"{count:,}", probe.label, first.cell(), second.cell(), f"{ratio:.2f}"]
    if probe.target is not None:
        what = f"{section.title[:2]} {' / '.join(urls)}, {count:,} entries, {probe.label}"
        verdict = report.target(what, ratio, probe.target, at_least=True)
        row += [f"≥ {probe.target:g}", verdict]
    elif len(section.headers) > len(row):
        row += ["—", "—"]
    section.rows.append(row)


# --- a. feed throughput: medfeed vs a bare Flask app ------------------------------------------


def medfeed_server(folder: Path) -> tuple[list[str], int, dict[str, str]]:
    """gunicorn's command line for medfeed on a free port, its port, and its environment."""
    port = free_port()
    return gunicorn_argv("wsgi:app", port), port, medfeed_env(folder, port)


def save_feeds(server: Server, into: Path) -> dict[str, str]:
    """Write medfeed's /feed.atom and /feed.rss into files; the bare app's environment."""
    into.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    for path, var in (("/feed.atom", "BENCH_FEED_FILE"), ("/feed.rss", "BENCH_RSS_FILE")):
        target = into / path.lstrip("/")
        target.write_bytes(get(server.url(path))[2])
        env[var] = str(target)
    return env


def same_answer(section: Section, medfeed: Server, bare: Server) -> None:
    _, mine_headers, mine = get(medfeed.url("/feed.atom"))
    _, bare_headers, theirs = get(bare.url("/feed.atom"))
    if mine != theirs or mine_headers["content-type"] != bare_headers["content-type"]:
        section.failed = True
        section.notes.append("⚠ the bare app does not return medfeed's bytes and type")


def throughput(folder: Path, count: int, plan: Plan, tmp: Path, report: Report,
               section: Section) -> None:  # fmt: skip
    argv, port, env = medfeed_server(folder)
    with running("medfeed", argv, port, tmp / f"medfeed-{count}.log", env) as medfeed:
        bare_env = save_feeds(medfeed, tmp / f"bare-{count}")
        bare_port = free_port()
        bare_argv = gunicorn_argv("bare_app:app", bare_port)
        with running("bare", bare_argv, bare_port, tmp / f"bare-{count}.log", bare_env,
                     cwd=BENCH) as bare:  # fmt: skip
            same_answer(section, medfeed, bare)
            etag = get(medfeed.url("/feed.atom"))[1]["etag"]
            urls = {"medfeed": medfeed.url("/feed.atom"), "bare": bare.url("/feed.atom")}
            for probe in throughput_probes(etag):
                compare(section, report, plan, count, urls, probe)


def throughput_probes(etag: str) -> list[Probe]:
    return [
        Probe("GET /feed.atom → 200", {}, {"medfeed": 200, "bare": 200}, 0.95),
        Probe("If-None-Match: medfeed's ETag → medfeed 304, bare 200",
              {"If-None-Match": etag}, {"medfeed": 304, "bare": 200}, 1.0),
        Probe("Accept-Encoding: gzip → medfeed gzip 200, bare identity 200",
              {"Accept-Encoding": "gzip"}, {"medfeed": 200, "bare": 200}),
    ]  # fmt: skip


# --- b. static files: medfeed build behind nginx vs a plain file --------------------------------

NGINX_CONF = """\
worker_processes 2;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    types {{
        text/html html;
        application/atom+xml atom;
        application/rss+xml rss;
    }}
    default_type application/octet-stream;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen {host}:{port};
        root {site};
        # medfeed's build: precompressed siblings, the app's headers.
        location / {{
            gzip_static on;
            gzip_vary on;
            charset utf-8;
            charset_types text/html application/atom+xml application/rss+xml;
            add_header Cache-Control "public, max-age=300";
            add_header X-Content-Type-Options nosniff;
        }}
        # The baseline: the same bytes, nothing else.
        location = /plain.atom {{
            root {plain};
        }}
    }}
}}
"""


def medfeed_build(folder: Path, out: Path) -> float:
    """``medfeed build`` into ``out``; the seconds it took."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "medfeed", "build", str(out), "--entries", str(folder)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return time.perf_counter() - started


def nginx_config(tmp: Path, port: int, site: Path, plain: Path) -> Path:
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, host="127.0.0.1", port=port, site=site,
                                      plain=plain), encoding="utf-8")  # fmt: skip
    return conf


def static(folder: Path, count: int, plan: Plan, tmp: Path, report: Report,
           section: Section) -> None:  # fmt: skip
    work = tmp / f"nginx-{count}"
    work.mkdir()
    site, plain = work / "site", work / "plain"
    medfeed_build(folder, site)
    plain.mkdir()
    shutil.copyfile(site / "feed.atom", plain / "plain.atom")
    port = free_port()
    conf = nginx_config(work, port, site, plain)
    argv = [tool("nginx"), "-e", "stderr", "-p", str(work), "-c", str(conf), "-g", "daemon off;"]
    with running("nginx", argv, port, work / "nginx.log") as nginx:
        if get(nginx.url("/feed.atom"))[2] != get(nginx.url("/plain.atom"))[2]:
            section.failed = True
            section.notes.append("⚠ /feed.atom and /plain.atom differ")
        urls = {"built": nginx.url("/feed.atom"), "plain": nginx.url("/plain.atom")}
        expected = {"built": 200, "plain": 200}
        for probe in (
            Probe("GET → 200 identity", {}, expected, 0.9),
            Probe("Accept-Encoding: gzip → built .gz, plain identity",
                  {"Accept-Encoding": "gzip"}, expected, 0.9),
        ):  # fmt: skip
            compare(section, report, plan, count, urls, probe)


# --- c. start-up, and memory per worker ---------------------------------------------------------


def first_feed_seconds(folder: Path, log: Path, keep: Callable[[Server], None] | None) -> float:
    """Seconds from launching gunicorn to the first 200 for /feed.atom, polled every 20 ms."""
    argv, port, env = medfeed_server(folder)
    started = time.perf_counter()
    server = start("medfeed", argv, port, log, env)
    try:
        wait_ready(server, "/feed.atom", timeout=120, interval=0.02)
        elapsed = time.perf_counter() - started
        if keep is not None:
            keep(server)
        return elapsed
    finally:
        server.stop()


def publisher_seconds(folder: Path) -> float:
    """In-process: read, validate and render every feed (constructing a Publisher)."""
    started = time.perf_counter()
    Publisher(Settings(entries_dir=folder, base_url="http://127.0.0.1:8000/",
                       state_dir=state_beside(folder)))  # fmt: skip
    return time.perf_counter() - started


def startup(folder: Path, count: int, plan: Plan, tmp: Path, report: Report,
            section: Section, memory_section: Section) -> None:  # fmt: skip
    memory: dict[str, float] = {}

    def measure_memory(server: Server) -> None:
        warm(server, feed_paths(folder))
        workers = children(server.process.pid)
        memory["master"] = rss_mib(server.process.pid)
        for index, pid in enumerate(workers, 1):
            memory[f"worker {index}"] = rss_mib(pid)

    launches = []
    for run in range(plan.startup_runs):
        last = run == plan.startup_runs - 1
        launches.append(first_feed_seconds(folder, tmp / "startup.log",
                                           measure_memory if last else None))  # fmt: skip
    loads = [publisher_seconds(folder) for _ in range(plan.startup_runs)]
    launch = statistics.median(launches)
    verdict = report.target(f"c. gunicorn start-up to first feed, {count:,} entries",
                            launch, 2.0, at_least=False, unit=" s")  # fmt: skip
    runs = ", ".join(fmt_seconds(s) for s in launches)
    section.rows.append(
        [
            f"{count:,}",
            "`gunicorn -w 2 wsgi:app` launch → first 200 /feed.atom",
            f"{fmt_seconds(launch)} (median of {runs})",
            "≤ 2 s",
            verdict,
        ]
    )
    section.rows.append(
        [
            f"{count:,}",
            "in-process Publisher(): load, validate, render all feeds",
            f"{fmt_seconds(statistics.median(loads))} (median of "
            f"{', '.join(fmt_seconds(s) for s in loads)})",
            "—",
            "—",
        ]
    )
    memory_rows(memory, count, report, memory_section)


def memory_rows(memory: Mapping[str, float], count: int, report: Report, section: Section) -> None:
    for name, mib in memory.items():
        what = f"RSS of the gunicorn {name}, {count:,} entries, after warming every feed"
        if name.startswith("worker"):
            verdict = report.target(f"e. RSS of gunicorn {name}, {count:,} entries", mib, 150,
                                    at_least=False, unit=" MiB")  # fmt: skip
            section.rows.append([what, f"{mib:.0f} MiB (target ≤ 150 MiB: {verdict})"])
        else:
            section.rows.append([what, f"{mib:.0f} MiB"])
    if len(memory) != 3:
        section.failed = True
        section.notes.append(f"⚠ expected 2 workers, found {len(memory) - 1}")


# --- d. medfeed build vs hugo -----------------------------------------------------------------


def hugo_build(site: Path, out: Path, cache: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [tool("hugo"), "--source", str(site), "--destination", str(out), "--cacheDir", str(cache),
         "--quiet"],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return time.perf_counter() - started


def count_files(folder: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(folder))


def build_vs_hugo(folder: Path, count: int, plan: Plan, tmp: Path, report: Report,
                  section: Section) -> None:  # fmt: skip
    hugo_site = convert(folder, tmp / "hugo-site")
    times: dict[str, list[float]] = {"medfeed": [], "hugo": []}
    files: dict[str, int] = {}
    builders: dict[str, Callable[[Path], float]] = {
        "medfeed": lambda out: medfeed_build(folder, out),
        "hugo": lambda out: hugo_build(hugo_site, out, tmp / "hugo-cache"),
    }
    for run in range(plan.build_runs):
        for name, build in builders.items():
            out = tmp / f"{name}-out-{run}"
            times[name].append(build(out))
            files.setdefault(name, count_files(out))
            if run < plan.build_runs - 1 or name == "hugo":
                shutil.rmtree(out)
    medians = {name: statistics.median(t) for name, t in times.items()}
    ratio = medians["medfeed"] / medians["hugo"]
    verdict = report.target(f"d. build time medfeed/hugo, {count:,} entries", ratio, 1.0,
                            at_least=False)  # fmt: skip
    cells = {n: f"{fmt_seconds(m)} ({', '.join(fmt_seconds(t) for t in times[n])}; "
                f"{files[n]:,} files)" for n, m in medians.items()}  # fmt: skip
    section.rows.append([f"{count:,}", cells["medfeed"], cells["hugo"], f"{ratio:.2f}", "≤ 1.0",
                         verdict])  # fmt: skip
    out = tmp / f"medfeed-out-{plan.build_runs - 1}"
    rebuilds = {"nothing changed": [medfeed_build(folder, out) for _ in range(plan.build_runs)],
                "one entry changed": [edit_and_build(folder, out, n)
                                      for n in range(plan.build_runs)]}  # fmt: skip
    shutil.rmtree(out)
    for what, took in rebuilds.items():
        ratio = statistics.median(took) / medians["hugo"]
        verdict = report.target(f"d. rebuild ({what})/hugo's build, {count:,} entries", ratio,
                                0.1, at_least=False)  # fmt: skip
        cell = f"{fmt_seconds(statistics.median(took))} ({', '.join(map(fmt_seconds, took))})"
        section.rows.append([f"{count:,}, rebuild: {what}", cell, fmt_seconds(medians["hugo"]),
                             f"{ratio:.2f}", "≤ 0.1", verdict])  # fmt: skip
    section.notes.append("medfeed writes a .gz sibling of every file; hugo writes none. A "
                         "rebuild is `medfeed build` into the folder of the last build (in a "
                         "new process, as a deploy script runs it), set against hugo's full "
                         "build.")  # fmt: skip


def edit_and_build(folder: Path, out: Path, n: int) -> float:
    """Change one entry's title (the middle one, a new title each time), then rebuild."""
    names = sorted(p.name for p in folder.glob("*.json"))
    path = folder / names[len(names) // 2]
    data = json.loads(path.read_text(encoding="utf-8"))
    data["title"] = f"{data['title'].split(' (edit ')[0]} (edit {n})"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return medfeed_build(folder, out)


# --- e. watching: bench/live.py -----------------------------------------------------------------


def watching(count: int, plan: Plan, section: Section) -> None:
    count = max(count, LIVE_MIN_ENTRIES)
    if plan.live_idle <= 0:
        section.notes.append("skipped in smoke mode: bench/live.py needs 10,000 entries "
                             "(it edits entry-09999.json); run without --smoke")  # fmt: skip
        return
    done = subprocess.run(
        [sys.executable, str(BENCH / "live.py"), "--count", str(count), "--idle",
         str(plan.live_idle)],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        section.failed = True
        section.notes.append(f"⚠ bench/live.py failed ({done.returncode}): {done.stderr[-500:]}")
        return
    for line in done.stdout.splitlines():
        what, _, value = line.partition(": ")
        if value:
            section.rows.append([f"live.py: {what}", value])


# --- f. granian vs gunicorn ---------------------------------------------------------------------


def granian_vs_gunicorn(folder: Path, count: int, plan: Plan, tmp: Path, report: Report,
                        section: Section) -> None:  # fmt: skip
    granian = granian_path()
    if granian is None:
        section.notes.append("granian is not installed: `.venv/bin/pip install 'granian>=2,<3'`;"
                             " skipped")  # fmt: skip
        return
    argv, port, env = medfeed_server(folder)
    g_port = free_port()
    g_argv = [granian, "--interface", "wsgi", "--workers", "2", "--host", "127.0.0.1",
              "--port", str(g_port), "--log-level", "warning", "wsgi:app"]  # fmt: skip
    with (
        running("gunicorn", argv, port, tmp / "gunicorn-f.log", env) as gunicorn,
        # The same base URL, so that both render the same bytes with the same ETag.
        running("granian", g_argv, g_port, tmp / "granian.log", env) as gr,
    ):
        etag = get(gunicorn.url("/feed.atom"))[1]["etag"]
        urls = {"granian": gr.url("/feed.atom"), "gunicorn": gunicorn.url("/feed.atom")}
        for probe in (
            Probe("GET /feed.atom → 200", {}, {"granian": 200, "gunicorn": 200}),
            Probe("If-None-Match → 304", {"If-None-Match": etag},
                  {"granian": 304, "gunicorn": 304}),
        ):  # fmt: skip
            compare(section, report, plan, count, urls, probe)
    section.notes.append(
        "granian keeps HTTP/1.1 connections open; gunicorn's sync workers "
        "close each one, so wrk reconnects for every request there."
    )


# --- main -------------------------------------------------------------------------------------


def guarded(section: Section, count: int, measure: Callable[..., None], *args: Any) -> None:
    """Measure into ``section``; a failure is reported in it, and the run goes on."""
    print(f"… {count:,} entries: {section.title}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        measure(*args)
    except Exception as e:  # noqa: BLE001 - one broken measurement must not hide the others
        section.failed = True
        section.notes.append(f"⚠ {count:,} entries: failed: {type(e).__name__}: {e}")
    section.notes.append(f"({count:,} entries measured in {time.perf_counter() - started:.0f} s)")


def measure_all(plan: Plan, tmp: Path, report: Report) -> None:
    a = Section("a. Feed throughput: medfeed vs a bare Flask app returning the same bytes "
                "(gunicorn -w 2 -k sync, best run)",
                ["entries", "request", "medfeed req/s", "bare Flask req/s", "ratio", "target",
                 "verdict"])  # fmt: skip
    b = Section("b. Static: `medfeed build` output vs a plain copy of /feed.atom, same nginx "
                "(worker_processes 2, sendfile on, access_log off)",
                ["entries", "request", "built /feed.atom req/s", "plain /plain.atom req/s",
                 "ratio", "target", "verdict"])  # fmt: skip
    c = Section("c. Start-up (gunicorn -w 2 wsgi:app)",
                ["entries", "what", "value", "target", "verdict"])  # fmt: skip
    d = Section("d. Build: `medfeed build` vs `hugo` on the same content (median)",
                ["entries", "medfeed", "hugo", "ratio", "target", "verdict"])  # fmt: skip
    e = Section("e. Watching (`bench/live.py`) and memory per gunicorn worker",
                ["figure", "value"])  # fmt: skip
    f = Section(
        "f. granian vs gunicorn, both 2 workers, serving medfeed (best run)",
        ["entries", "request", "granian req/s", "gunicorn req/s", "granian/gunicorn"],
    )
    report.sections += [a, b, c, d, e, f]
    folders = {n: generate(tmp / f"entries-{n}", n) for n in plan.sizes}
    for count, folder in folders.items():
        guarded(a, count, throughput, folder, count, plan, tmp, report, a)
        guarded(b, count, static, folder, count, plan, tmp, report, b)
    count = max(plan.sizes)
    folder = folders[count]
    guarded(c, count, startup, folder, count, plan, tmp, report, c, e)
    guarded(d, count, build_vs_hugo, folder, count, plan, tmp, report, d)
    guarded(e, max(count, LIVE_MIN_ENTRIES), watching, count, plan, e)
    guarded(f, count, granian_vs_gunicorn, folder, count, plan, tmp, report, f)


def render(plan: Plan, report: Report, command: str) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"# medfeed benchmarks ({plan.name})\n", f"`{command}`, {when}.\n"]
    parts += [s.markdown() for s in report.sections]
    parts.append("## Targets\n")
    # By section, in the order measured within each.
    parts += [f"- {t}" for t in sorted(report.targets, key=lambda t: t[:2])]
    return "\n".join(parts).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="200 entries, 2 s runs (CI)")
    parser.add_argument("--out", type=Path, default=BENCH / "results.md")
    args = parser.parse_args()
    plan = SMOKE if args.smoke else FULL
    # A stopped run still stops its servers and removes its folders.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report = Report()
    started = time.perf_counter()
    report.sections.append(machine_section(plan))
    with tempfile.TemporaryDirectory(prefix="medfeed-bench-") as name:
        tmp = Path(name)
        tmp.chmod(0o755)  # nginx workers run as another user when started by root
        measure_all(plan, tmp, report)
    report.sections[0].notes.append(f"the whole run took {time.perf_counter() - started:.0f} s")
    command = "python bench/run.py" + (" --smoke" if args.smoke else "")
    text = render(plan, report, command)
    print(text)
    args.out.write_text(text + kept_section(args.out), encoding="utf-8")
    return 1 if report.failed() else 0


KEPT = "<!-- Kept by bench/run.py: the opt-in runs below are recorded by hand. -->"


def kept_section(out: Path) -> str:
    """What ``out`` holds from the KEPT line on (the figures of opt-in runs, such as
    100,000 entries, which this run does not measure), to be written after the new
    report; empty if there is none."""
    try:
        earlier = out.read_text(encoding="utf-8")
    except OSError:
        return ""
    at = earlier.find(KEPT)
    return "" if at < 0 else "\n" + earlier[at:]


if __name__ == "__main__":
    sys.exit(main())
