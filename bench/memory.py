"""Memory of `gunicorn -w 2` serving generated entries, after warming every feed: once
after a first start (an empty state folder: every file read and validated), once after
a restart on the entry cache that start wrote.

Usage: python bench/memory.py [--sizes 10000] [--with-100k] [--smoke] [--scratch DIR]

Prints, for each size and start, the seconds from launching gunicorn to the first feed,
each worker's resident memory (RSS) and the proportional set size (PSS: pages shared
between processes counted in part) of master and workers together. Targets (issue 12):
at most 150 MiB per worker at 10,000 entries, at most 600 MiB for all the processes of
`gunicorn -w 2` at 100,000. ``--smoke``: 200 entries, a few seconds; ``--with-100k``
adds 100,000 entries, which take minutes to generate and start.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from servers import (  # noqa: E402 - after the path is set
    children,
    feed_paths,
    free_port,
    gunicorn_argv,
    medfeed_env,
    memory_mib,
    start,
    state_beside,
    wait_ready,
    warm,
)
from startup import generate_settled  # noqa: E402

from medfeed.entrycache import CACHE_FILE  # noqa: E402

PER_WORKER_10K = 150.0
"""MiB of each worker at 10,000 entries, at most."""
ALL_100K = 600.0
"""MiB of all the processes of `gunicorn -w 2` at 100,000 entries, at most."""
SETTLE = 3.0
"""Seconds left after warming for the entry cache's writer (a forked child) to end."""


@dataclass
class Measured:
    """One server's figures."""

    first_feed: float
    """Seconds from launching gunicorn to the first 200 for /feed.atom."""
    workers_rss: list[float]
    """MiB resident in each worker."""
    pss: float
    """MiB of master and workers together, shared pages counted in part."""

    def verdict(self, count: int) -> str:
        if len(self.workers_rss) != 2:
            return f"expected 2 workers, found {len(self.workers_rss)}"
        if count == 10_000:
            return "met" if max(self.workers_rss) <= PER_WORKER_10K else "missed"
        if count == 100_000:
            return "met" if self.pss <= ALL_100K else "missed"
        return "-"


def serve_and_measure(entries: Path, log: Path) -> Measured:
    """One `gunicorn -w 2` on ``entries`` (its state folder ``state_beside`` them):
    launch to first feed, then the memory of each process once every feed was asked
    for in every encoding."""
    port = free_port()
    started = time.perf_counter()
    server = start(
        "medfeed", gunicorn_argv("wsgi:app", port), port, log, medfeed_env(entries, port)
    )
    try:
        wait_ready(server, "/feed.atom", timeout=900)
        first_feed = time.perf_counter() - started
        warm(server, feed_paths(entries))
        deadline = time.monotonic() + 600
        while not (state_beside(entries) / CACHE_FILE).exists() and time.monotonic() < deadline:
            time.sleep(0.1)  # the first start's cache, for the restart
        time.sleep(SETTLE)
        workers = [memory_mib(pid) for pid in children(server.process.pid)]
        master = memory_mib(server.process.pid)
    finally:
        server.stop()
    return Measured(first_feed, [rss for rss, _ in workers],
                    master[1] + sum(pss for _, pss in workers))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--with-100k", action="store_true", help="also 100,000 entries")
    parser.add_argument("--smoke", action="store_true", help="200 entries")
    parser.add_argument("--scratch", type=Path, default=None, help="where entries go")
    args = parser.parse_args()
    sizes = [200] if args.smoke else args.sizes
    if args.with_100k:
        sizes = [*sizes, 100_000]
    print("Memory of gunicorn -w 2 after warming every feed (sync workers, no preload)\n")
    print("| entries | start | launch to first feed | RSS of each worker "
          "| PSS of master and workers | target |")  # fmt: skip
    print("| ---: | --- | ---: | ---: | ---: | --- |")
    for count in sizes:
        with tempfile.TemporaryDirectory(dir=args.scratch) as scratch:
            entries = Path(scratch) / "entries"
            generate_settled(entries, count)
            for start_kind in ("first start, no cache", "restart on the cache"):
                got = serve_and_measure(entries, Path(scratch) / "gunicorn.log")
                workers = " + ".join(f"{mib:.0f}" for mib in got.workers_rss)
                print(f"| {count:,} | {start_kind} | {got.first_feed:.2f} s | {workers} MiB "
                      f"| {got.pss:.0f} MiB | {got.verdict(count)} |", flush=True)  # fmt: skip
    print(
        f"\ntargets: each worker at most {PER_WORKER_10K:.0f} MiB at 10,000 entries; "
        f"master and workers together at most {ALL_100K:.0f} MiB at 100,000"
    )


if __name__ == "__main__":
    main()
