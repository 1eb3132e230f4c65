"""What the archive (RFC 5005 archive documents, archive pages) costs, on generated entries.

Renders every document of a snapshot on one core, in-process, and reports the time spent
on the archive's documents against the rest, and the snapshot's start-up (the archive is
rendered on demand, so start-up should not move). The ratio is what a full static build
pays on top of the rest for the archive (issue target: at most 25%).

Usage: python bench/archives.py [--count 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from generate import generate  # noqa: E402

from medfeed.documents import KINDS  # noqa: E402
from medfeed.loading import load_catalog  # noqa: E402
from medfeed.snapshot import Snapshot  # noqa: E402

ARCHIVE = ("archive", "period")


def measure(folder: Path) -> tuple[float, float, float, int, int]:
    """(start-up, archive seconds, other seconds, archive documents, other documents)."""
    catalog = load_catalog(folder)
    started = time.perf_counter()
    snapshot = Snapshot(catalog, "http://127.0.0.1:8000/", datetime.now(UTC), prepare=False)
    startup = time.perf_counter() - started
    for item in snapshot.items:
        item.content_html  # noqa: B018 - Markdown is shared by both sides: not counted
    spent = {True: 0.0, False: 0.0}
    counts = {True: 0, False: 0}
    for kind in KINDS:
        archive = kind.shows in ARCHIVE or kind.scope.endswith("archive")
        for subject in snapshot.subjects(kind):
            began = time.perf_counter()
            snapshot.document_of(kind, subject)
            spent[archive] += time.perf_counter() - began
            counts[archive] += 1
    return startup, spent[True], spent[False], counts[True], counts[False]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = generate(Path(scratch) / "entries", args.count)
        runs = [measure(folder) for _ in range(args.runs)]
    startup = statistics.median(r[0] for r in runs)
    archive = statistics.median(r[1] for r in runs)
    other = statistics.median(r[2] for r in runs)
    print(f"entries: {args.count}; runs: {args.runs} (medians)")
    print(f"snapshot start-up: {startup:.2f} s")
    print(f"archive documents and pages: {runs[0][3]} in {archive:.2f} s")
    print(f"every other document: {runs[0][4]} in {other:.2f} s")
    print(f"archive / rest: {archive / other:.2f} (target: at most 0.25)")


if __name__ == "__main__":
    main()
