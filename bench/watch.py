"""One edited entry to an up-to-date static build: ``medfeed build --watch`` against
``medfeed build`` run again, and against Hugo's full build of the same content.

Usage: python bench/watch.py [--sizes 10000] [--edits 9] [--with-100k] [--smoke] [--restart]

For each size, generated entries (bench/generate.py) are built by ``medfeed build OUT
--watch`` (a process of its own, with its own state folder). Then, ``--edits`` times, a
published entry picked at random (not a draft or a scheduled one, whose edit changes
no document) gets a new title, as an editor saves it, and the time is taken
from just before the write to the process's report that the round which put the change
in place is done (the watcher's notice, the new content version, the documents made and
written, the manifest). After each edit the same change is also built by a new
``medfeed build`` process over a copy of the folder (the rebuild without --watch), and
``hugo`` builds the same entries into an empty folder, so that the ratios are taken
within the same minutes. Prints medians (and the range) of each. ``--smoke``: 200
entries, two edits, no Hugo. ``--restart``: the watching process is stopped after its
first build and started again over the folder it built (as after a reboot), which then
makes nothing: the edits are timed in the second process.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from queue import Empty, Queue

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

MEDFEED = [sys.executable, "-m", "medfeed"]
BASE_URL = "https://news.example.org/"


def _lines(stream: object, into: Queue[tuple[float, str]]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put((time.perf_counter(), line.rstrip("\n")))


def _next_report(lines: Queue[tuple[float, str]], within: float) -> tuple[float, str]:
    """The next line saying what a build round did, with when it came."""
    deadline = time.perf_counter() + within
    seen: list[str] = []
    while True:
        try:
            at, line = lines.get(timeout=max(0.0, deadline - time.perf_counter()))
        except Empty:
            said = "".join(f"\n  {line}" for line in seen[-20:])
            raise SystemExit(f"no build round was reported within {within} s{said}") from None
        seen.append(line)
        if "documents written" in line or "Traceback" in line:
            if "Traceback" in line:
                raise SystemExit(line)
            return at, line


def published(entries: Path) -> list[str]:
    """The entry files readers see (not drafts, not scheduled): an edit of one of them
    is put in place, so a round reports it."""
    now = datetime.now(UTC)
    names = []
    for path in sorted(entries.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if not data.get("draft") and datetime.fromisoformat(data["published"]) <= now:
            names.append(path.name)
    return names


def edit(entries: Path, rng: random.Random, number: int, names: list[str]) -> str:
    """Give one of ``names``, picked at random, a new title; its file name."""
    name = rng.choice(names)
    path = entries / name
    data = json.loads(path.read_text(encoding="utf-8"))
    data["title"] = f"{data['title'].split(' (edit')[0]} (edit {number})"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return name


def rebuild_seconds(entries: Path, out: Path, copy: Path, state: Path) -> float:
    """``medfeed build`` in a new process over a copy of ``out``, timed."""
    shutil.rmtree(copy, ignore_errors=True)
    # Hard links keep each file's inode, as the manifest records it; the copy's files
    # are replaced by renames, never written in place, so the watched folder stays.
    subprocess.run(["cp", "-al", str(out), str(copy)], check=True)
    env = {**os.environ, "MEDFEED_BASE_URL": BASE_URL, "MEDFEED_STATE_DIR": str(state)}
    started = time.perf_counter()
    subprocess.run([*MEDFEED, "build", str(copy), "--entries", str(entries)], env=env,
                   check=True, capture_output=True, timeout=900)  # fmt: skip
    return time.perf_counter() - started


def _start(
    command: list[str], env: dict[str, str]
) -> tuple[subprocess.Popen[str], Queue[tuple[float, str]]]:
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    lines: Queue[tuple[float, str]] = Queue()
    threading.Thread(target=_lines, args=(process.stderr, lines), daemon=True).start()
    return process, lines


def measure(
    entries: Path, scratch: Path, edits: int, hugo: bool, restart: bool = False
) -> dict[str, object]:
    from hugo_site import convert
    from startup import hugo_seconds

    out, state = scratch / "out", scratch / "state"
    env = {**os.environ, "MEDFEED_BASE_URL": BASE_URL, "MEDFEED_STATE_DIR": str(state)}
    command = [*MEDFEED, "build", str(out), "--entries", str(entries), "--watch"]
    started = time.perf_counter()
    process, lines = _start(command, env)
    try:
        at, _ = _next_report(lines, 1800)
        if restart:  # stopped, and started again over the folder it built
            process.terminate()
            process.wait(timeout=60)
            started = time.perf_counter()
            process, lines = _start(command, env)
            at, _ = _next_report(lines, 1800)
        first = at - started
        time.sleep(2)  # the round that follows watching's start
        while not lines.empty():
            lines.get()
        site = convert(entries, scratch / "hugo-site") if hugo else None
        rng, names = random.Random(1), published(entries)
        rounds, again, builds, written = [], [], [], []
        for number in range(edits):
            before = time.perf_counter()
            edit(entries, rng, number, names)
            at, line = _next_report(lines, 120)
            rounds.append(at - before)
            written.append(int(line.split(": ")[-1].split(" documents written")[0]))
            time.sleep(0.5)  # nothing else is under way when the next is timed
            again.append(rebuild_seconds(entries, out, scratch / "copy", scratch / "state2"))
            if site is not None:
                builds.append(hugo_seconds(site, scratch))
    finally:
        process.terminate()
        process.wait(timeout=60)
    return {"first": first, "rounds": rounds, "again": again, "builds": builds,
            "written": written}  # fmt: skip


def spread(values: list[float], unit: float = 1.0, digits: int = 2) -> str:
    if not values:
        return "not measured"
    median = statistics.median(values) * unit
    return f"{median:.{digits}f} ({min(values) * unit:.{digits}f}-{max(values) * unit:.{digits}f})"


def main() -> None:
    from startup import generated

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--edits", type=int, default=9)
    parser.add_argument("--with-100k", action="store_true", help="also 100,000 entries")
    parser.add_argument("--smoke", action="store_true", help="200 entries, two edits")
    parser.add_argument(
        "--restart", action="store_true", help="edits after a start over the folder built"
    )
    parser.add_argument("--scratch", type=Path, default=None, help="where entries go")
    args = parser.parse_args()
    sizes, edits = ([200], 2) if args.smoke else (args.sizes, args.edits)
    if args.with_100k:
        sizes = [*sizes, 100_000]
    hugo = not args.smoke and shutil.which("hugo") is not None
    print(f"One edited entry to an up-to-date build; medians (range) of {edits} edits\n")
    start = "start over the built folder" if args.restart else "first build"
    print(f"| entries | {start} (s) | --watch: edit to round done (ms) | documents "
          "written | `build` again, new process (s) | hugo, full build (s) | --watch / "
          "hugo | build again / hugo |")  # fmt: skip
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for count, scratch in generated(sizes, args.scratch):
        result = measure(scratch / "entries", scratch, edits, hugo, args.restart)
        rounds, again, builds = result["rounds"], result["again"], result["builds"]
        assert isinstance(rounds, list) and isinstance(again, list) and isinstance(builds, list)
        hugo_median = statistics.median(builds) if builds else None
        ratios = (f"{statistics.median(rounds) / hugo_median:.3f} | "
                  f"{statistics.median(again) / hugo_median:.2f}"
                  if hugo_median else "| ")  # fmt: skip
        print(f"| {count:,} | {result['first']:.1f} | {spread(rounds, 1000, 0)} | "
              f"{statistics.median(result['written'])} | {spread(again)} | "  # type: ignore[arg-type]
              f"{spread(builds)} | {ratios} |", flush=True)  # fmt: skip
    if hugo:
        print("\ntarget: a rebuild after one changed entry at most 0.1 x hugo's full build")


if __name__ == "__main__":
    main()
