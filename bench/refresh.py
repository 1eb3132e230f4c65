"""One edited entry to fresh feeds: the cost of a change in a running publisher.

For each size, generated entries (bench/generate.py) are loaded by a Publisher as the app
runs it; then one entry file at a time is edited (its title: the newest entry, one in
the middle, the oldest, in turn) and ``Publisher.refresh`` is called for it, as the
watcher does. Reported, medians of --runs edits:

- fresh feeds: from the call to the moment the new snapshot (every feed re-rendered
  where the edit shows) is the one served;
- refresh: the whole call, which then compresses the new feeds (gzip, brotli); a
  request in between that wants them compressed compresses them itself.

Usage: python bench/refresh.py [--sizes 1000 10000] [--runs 15] [--smoke]
(100,000 entries: --sizes 100000; generating them takes a while).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from generate import generate  # noqa: E402

from medfeed.settings import Settings  # noqa: E402
from medfeed.site import Publisher  # noqa: E402
from medfeed.snapshot import Snapshot  # noqa: E402

SHM = Path("/dev/shm")
TARGETS = {10_000: 0.050, 100_000: 0.100}
"""Seconds from an edit to fresh feeds that issue 12 allows."""


def measure(folder: Path, state: Path, runs: int) -> tuple[list[float], list[float]]:
    """(fresh feeds, whole refresh) seconds for ``runs`` edits."""
    publisher = Publisher(
        Settings(entries_dir=folder, base_url="http://127.0.0.1:8000/", state_dir=state)
    )
    names = sorted(path.name for path in folder.glob("entry-*.json"))
    picks = [names[-1], names[len(names) // 2], names[0]]
    compressed: list[float] = []
    original = Snapshot.compress

    def timed(snapshot: Snapshot) -> None:
        # The new snapshot is served before this is called (see Publisher.refresh).
        compressed.append(time.perf_counter())
        original(snapshot)

    Snapshot.compress = timed  # type: ignore[method-assign]
    fresh, whole = [], []
    try:
        for run in range(runs):
            target = folder / picks[run % len(picks)]
            data = json.loads(target.read_text(encoding="utf-8"))
            shown = data["title"].encode() in publisher.snapshot().feed(None, "rss").body
            data["title"] = f"Edited {run}: {data['title']}"
            target.write_text(json.dumps(data), encoding="utf-8")
            compressed.clear()
            started = time.perf_counter()
            publisher.refresh({target.name})
            ended = time.perf_counter()
            if not compressed:
                raise SystemExit(f"{target.name}: the edit made no new snapshot")
            fresh.append(compressed[0] - started)
            whole.append(ended - started)
            for fmt in ("rss", "atom", "json"):
                # An entry the feeds showed shows the edit (generated entries are plain
                # text: the title is written alike in every format).
                if (
                    shown
                    and data["title"].encode() not in publisher.snapshot().feed(None, fmt).body
                ):
                    raise SystemExit(f"{fmt}: the edit is not in the feed")
    finally:
        Snapshot.compress = original  # type: ignore[method-assign]
        publisher.stop()
    return fresh, whole


def milliseconds(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms (max {max(values) * 1000:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--smoke", action="store_true", help="200 entries, 3 edits")
    args = parser.parse_args()
    sizes, runs = ([200], 3) if args.smoke else (args.sizes, args.runs)
    scratch = SHM if SHM.is_dir() else None
    print(f"One edited entry to fresh feeds; medians of {runs} edits (newest, middle, oldest)")
    print()
    print("| entries | fresh feeds | whole refresh (with compression) | target |")
    print("| ---: | ---: | ---: | ---: |")
    for size in sizes:
        # The publisher's entry cache is written by a thread of its own: it may still be
        # finishing when the folder goes.
        with tempfile.TemporaryDirectory(dir=scratch, ignore_cleanup_errors=True) as tmp:
            folder = generate(Path(tmp) / "entries", size)
            fresh, whole = measure(folder, Path(tmp) / "state", runs)
        target = TARGETS.get(size)
        goal = f"{target * 1000:.0f} ms" if target else "-"
        print(f"| {size:,} | {milliseconds(fresh)} | {milliseconds(whole)} | {goal} |")


if __name__ == "__main__":
    main()
