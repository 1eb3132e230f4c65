"""Load with faults: feed readers poll medfeed under real gunicorn while an editor adds,
edits, corrupts, fixes and deletes entries.

Usage: .venv/bin/python bench/load_faults.py [--seconds 60] [--clients 8] [--seed 1]
    [--background 100000 --scratch /dev/shm]

gunicorn (-w 2, as the README runs it) serves a fresh folder seeded with 20 entries (and
``--background`` generated ones, older, that nothing changes: the same checks at scale).
Client threads poll the all-entries feeds and the category feeds with conditional GETs
(each remembers every URL's ETag and body, as a feed reader does); a writer thread
changes the folder every 20-120 ms. Checked, and printed as counts:

- no 5xx answer, no connection error, no other unexpected status;
- every 200 body parses as a feed (feedparser bozo == 0) and names no id twice;
- no published entry is lost: an entry settled (written more than SETTLE seconds ago,
  so that both workers have published it) is in every all-entries feed a client holds
  until its file is deleted, whatever is done to its file meanwhile;
- every added entry appears in an all-entries 200 within PROMISE seconds of its write,
  and a deleted one is gone PROMISE seconds after the delete;
- no traceback in the server's log, and SIGTERM stops gunicorn with status 0 within 10 s.

Exit status 1 if any check fails. tests/test_load.py runs the same engine for ~8 s.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import feedparser
from generate import CATEGORIES as GENERATED
from generate import generate
from servers import free_port, get, gunicorn_argv, medfeed_env, running

PROMISE = 2.0
"""Seconds within which medfeed publishes a change to the folder."""
SETTLE = PROMISE + 1.0
"""After this long, every worker has published a written entry: it must never vanish."""
DRAIN = 3.0
"""Seconds the clients keep polling after the writer stops, for the last additions."""
SEED_ENTRIES = 20
POPULATION = (12, 40)
CATEGORIES = ("visits", "talks", "statements")
ALL_FEEDS = ("/feed.atom", "/feed.rss")
CATEGORY_FEEDS = tuple(f"/categories/{c}/feed.{f}" for c in CATEGORIES for f in ("atom", "rss"))
START = datetime(2024, 1, 1, tzinfo=UTC)

SITE_TOML = """\
title = "Load News"
description = "Entries that change under load."
base_url = "http://127.0.0.1:8000/"
language = "en"
authority = "load.example.org"
# Every entry in the all-entries feeds, so that a missing one is a lost one.
item_limit = 200

[author]
name = "Load Desk"
""" + "".join(f'\n[[categories]]\nslug = "{c}"\ntitle = "{c.title()}"\n' for c in CATEGORIES)


# --- the folder and what was done to it ---------------------------------------------------------


@dataclass
class Tracked:
    """One entry file, as the writer left it."""

    slug: str
    id: str
    data: dict[str, Any]
    written: float
    """When its first valid version was written (time.monotonic); -inf for a seed."""
    since: float = float("-inf")
    """From when every worker can have read it: its writing, or for a seed, the moment
    the server first answered (a worker still loading reads the folder as it is then)."""
    seen: float | None = None
    """When a client first got an all-entries feed with it."""
    corrupt: str | None = None
    claims: str | None = None
    """The other entry's id its corrupted file claims, for a duplicate-id fault."""
    deleted: float | None = None

    def settled(self, now: float) -> bool:
        return self.deleted is None and now - self.since >= SETTLE


class Registry:
    """What the writer did, for the clients to check feeds against; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[str, Tracked] = {}
        self.started = time.monotonic()

    def add(self, entry: Tracked) -> None:
        with self.lock:
            self.entries[entry.id] = entry

    def serving(self) -> None:
        """The server answers from now: the entries already there settle from now on."""
        with self.lock:
            now = time.monotonic()
            for entry in self.entries.values():
                entry.since = max(entry.since, now)

    def deleting(self, entry: Tracked) -> None:
        """Mark an entry deleted from now: feeds fetched from now on may lack it."""
        with self.lock:
            entry.deleted = time.monotonic()

    def required(self, started: float, ended: float) -> set[str]:
        """Ids every all-entries feed fetched between these times must hold."""
        with self.lock:
            return {
                e.id
                for e in self.entries.values()
                if e.since + SETTLE <= started and (e.deleted is None or e.deleted > ended)
            }

    def gone(self, started: float) -> set[str]:
        """Ids no feed fetched from ``started`` on may hold: deleted long enough ago."""
        with self.lock:
            return {
                e.id
                for e in self.entries.values()
                if e.deleted is not None and e.deleted + PROMISE <= started
            }

    def sighted(self, ids: Iterable[str], when: float) -> None:
        with self.lock:
            for entry_id in ids:
                entry = self.entries.get(entry_id)
                if entry is not None and entry.seen is None:
                    entry.seen = when

    def unseen(self) -> list[Tracked]:
        """Entries written, not deleted, and never seen yet."""
        with self.lock:
            return [e for e in self.entries.values() if e.seen is None and e.deleted is None]

    def latencies(self) -> list[float]:
        """Seconds from write to first sighting; infinity for one never seen."""
        with self.lock:
            return [
                (e.seen - e.written) if e.seen is not None else float("inf")
                for e in self.entries.values()
                if e.written > float("-inf") and (e.seen is not None or e.deleted is None)
            ]


def entry_data(serial: int, rng: random.Random) -> dict[str, Any]:
    slug = f"load-{serial:05d}"
    return {
        "id": f"tag:load.example.org,2024:{slug}",
        "title": f"Load entry {serial}",
        "summary": f"Entry {serial} of the load test.",
        "content": f"Entry **{serial}** was written under load.\n\n- one\n- two\n",
        "published": (START + timedelta(minutes=serial)).isoformat(),
        "categories": rng.sample(CATEGORIES, rng.choice((1, 1, 2))),
    }


def write_file(path: Path, text: str, *, atomic: bool) -> None:
    """Write as editors do: in place (a reader may see it half-written), or by renaming."""
    if atomic:
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    else:
        path.write_text(text, encoding="utf-8")


# --- faults -------------------------------------------------------------------------------------


def corruption(kind: str, data: dict[str, Any], victim_id: str | None) -> str:
    """The text of a broken version of an entry."""
    text = json.dumps(data, indent=2)
    broken: dict[str, Any] = dict(data)
    if kind == "truncated":
        return text[: len(text) // 2]
    if kind == "invalid-json":
        return text.replace('",', '" ', 1)
    if kind == "empty":
        return ""
    if kind == "not-an-object":
        return json.dumps([data])
    if kind == "bad-date":
        broken["published"] = "last Tuesday"
    elif kind == "unknown-category":
        broken["categories"] = ["no-such-category"]
    elif kind == "unknown-field":
        broken["titel"] = broken.pop("title")
    elif kind == "duplicate-id":
        broken["id"] = victim_id
    return json.dumps(broken, indent=2)


FAULTS = ("truncated", "invalid-json", "empty", "not-an-object", "bad-date",
          "unknown-category", "unknown-field", "duplicate-id")  # fmt: skip


class Writer:
    """Changes the folder the way careless editors would, recording every change."""

    def __init__(
        self, folder: Path, registry: Registry, rng: random.Random, *, chains: bool = True
    ) -> None:
        self.folder = folder
        self.registry = registry
        self.rng = rng
        self.chains = chains
        self.serial = 0
        self.done: Counter[str] = Counter()
        self.journal: list[str] = []
        """Every change, timed from the start, for tracing a failure to its cause."""
        self._started = registry.started

    def note(self, entry: Tracked, change: str) -> None:
        moment = time.monotonic() - self._started
        self.journal.append(f"{moment:8.3f} {entry.slug} {change}")

    def path(self, entry: Tracked) -> Path:
        return self.folder / f"{entry.slug}.json"

    def alive(self) -> list[Tracked]:
        with self.registry.lock:
            return [e for e in self.registry.entries.values() if e.deleted is None]

    def seed(self, count: int) -> None:
        """Entries that are there before the server starts: every worker publishes them
        once it has loaded (see Registry.serving)."""
        for _ in range(count):
            self.add(seed=True)
        self.done.clear()

    def add(self, *, seed: bool = False) -> None:
        self.serial += 1
        data = entry_data(self.serial, self.rng)
        slug = data["id"].rsplit(":", 1)[1]
        written = float("-inf") if seed else time.monotonic()
        entry = Tracked(slug, data["id"], data, written, since=written)
        write_file(self.path(entry), json.dumps(data, indent=2), atomic=self.rng.random() < 0.5)
        self.registry.add(entry)
        self.note(entry, "add")
        self.done["add"] += 1

    def edit(self, entry: Tracked) -> None:
        entry.data = {
            **entry.data,
            "title": f"{entry.data['title'].split(' (')[0]} ({self.rng.randrange(10**6)})",
            "updated": datetime.now(UTC).isoformat(),
        }
        write_file(self.path(entry), json.dumps(entry.data, indent=2),
                   atomic=self.rng.random() < 0.5)  # fmt: skip
        if entry.corrupt is not None:
            entry.corrupt = entry.claims = None
            self.done["fix"] += 1
            self.note(entry, "fix")
        else:
            self.done["edit"] += 1
            self.note(entry, "edit")

    def corrupt(
        self, entry: Tracked, others: list[Tracked], claimed: set[str], kind: str | None = None
    ) -> None:
        kind = kind or self.rng.choice(FAULTS)
        victims = [o for o in others if o is not entry and o.corrupt is None]
        # Chained claims too: A takes B's id while B takes C's.
        victim = None
        if kind == "duplicate-id" and victims and (self.chains or entry.id not in claimed):
            victim = self.rng.choice(victims)
        if kind == "duplicate-id" and victim is None:
            kind = "truncated"
        # The claim is recorded first, so that the victim is never deleted under it.
        entry.claims = victim.id if victim else None
        entry.corrupt = kind
        write_file(self.path(entry), corruption(kind, entry.data, entry.claims), atomic=False)
        self.done[f"corrupt:{kind}"] += 1
        self.note(entry, f"corrupt:{kind} {entry.claims or ''}".rstrip())

    def delete(self, entry: Tracked) -> None:
        self.registry.deleting(entry)
        self.path(entry).unlink()
        self.done["delete"] += 1
        self.note(entry, "delete")

    def step(self) -> None:
        """One change, chosen at random within the population bounds."""
        now = time.monotonic()
        alive = self.alive()
        claimed = {e.claims for e in alive if e.claims}
        settled = [e for e in alive if e.settled(now)]
        corrupted = [e for e in alive if e.corrupt]
        sound = [e for e in settled if not e.corrupt]
        deletable = [e for e in settled if e.id not in claimed]
        low, high = POPULATION
        roll = self.rng.random()
        if len(alive) < low or (roll < 0.25 and len(alive) < high):
            self.add()
        elif len(alive) >= high and deletable:
            self.delete(self.rng.choice(deletable))
        elif roll < 0.45 and corrupted:
            self.edit(self.rng.choice(corrupted))
        elif roll < 0.75 and self.chains and (chain := [e for e in sound if e.id in claimed]):
            self.corrupt(self.rng.choice(chain), sound, claimed, "duplicate-id")
        elif roll < 0.75 and sound:
            self.corrupt(self.rng.choice(sound), sound, claimed)
        elif roll < 0.85 and deletable:
            self.delete(self.rng.choice(deletable))
        else:
            self.edit(self.rng.choice(alive))

    def run(self, stop: threading.Event, errors: list[str]) -> None:
        try:
            while not stop.is_set():
                self.step()
                stop.wait(self.rng.uniform(0.02, 0.12))
        except Exception as e:  # noqa: BLE001 - reported as a failure of the run
            errors.append(f"writer: {type(e).__name__}: {e}")


# --- readers ----------------------------------------------------------------------------------


@dataclass
class Counts:
    """What the clients saw."""

    requests: int = 0
    ok: int = 0
    not_modified: int = 0
    server_errors: int = 0
    connection_errors: int = 0
    other_statuses: Counter[int] = field(default_factory=Counter)
    bozo: int = 0
    duplicate_ids: int = 0
    lost: int = 0
    stale: int = 0
    examples: list[str] = field(default_factory=list)

    def merge(self, other: Counts) -> None:
        for name in ("requests", "ok", "not_modified", "server_errors", "connection_errors",
                     "bozo", "duplicate_ids", "lost", "stale"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.other_statuses.update(other.other_statuses)
        self.examples.extend(other.examples[: 20 - len(self.examples)])

    def example(self, text: str) -> None:
        if len(self.examples) < 20:
            self.examples.append(text)


Parsed = tuple[list[str] | None, str]
_parsed: dict[bytes, Parsed] = {}


def feed_ids(body: bytes) -> Parsed:
    """The entry ids of a feed, or None and why it does not parse.

    The same bytes parse the same way: each distinct body is parsed once, however many
    readers get it, so that the readers are not held up by feedparser.
    """
    key = hashlib.sha256(body).digest()
    found = _parsed.get(key)
    if found is None:
        parsed = feedparser.parse(body)
        if parsed.bozo:
            found = None, repr(parsed.get("bozo_exception"))
        elif not parsed.get("version"):
            found = None, "not recognised as a feed"
        else:
            found = [e.get("id", "") for e in parsed.entries], ""
        if len(_parsed) > 2000:
            _parsed.clear()
        _parsed[key] = found
    return found


class Client:
    """A feed reader polling every feed with conditional GETs."""

    def __init__(self, base: str, registry: Registry, rng: random.Random, *, gzip: bool) -> None:
        self.base = base
        self.registry = registry
        self.rng = rng
        self.gzip = gzip
        self.counts = Counts()
        self.etags: dict[str, str] = {}
        self.ids: dict[str, list[str]] = {}
        self.paths = [*ALL_FEEDS * 3, *CATEGORY_FEEDS]

    def poll(self, path: str) -> None:
        headers = {"Accept-Encoding": "gzip"} if self.gzip else {}
        if path in self.etags:
            headers["If-None-Match"] = self.etags[path]
        started = time.monotonic()
        self.counts.requests += 1
        try:
            status, reply, body = get(self.base + path, headers, timeout=10)
        except OSError as e:
            self.counts.connection_errors += 1
            self.counts.example(f"{path}: {type(e).__name__}: {e}")
            return
        ended = time.monotonic()
        if status == 200:
            self.counts.ok += 1
            self.received(path, reply, body)
        elif status == 304 and path in self.ids:
            self.counts.not_modified += 1
        elif status >= 500:
            self.counts.server_errors += 1
            self.counts.example(f"{path}: {status}: {body[:200]!r}")
            return
        else:
            self.counts.other_statuses[status] += 1
            self.counts.example(f"{path}: unexpected {status}")
            return
        if path in ALL_FEEDS and path in self.ids:
            self.check(path, self.ids[path], started, ended, status)

    def received(self, path: str, reply: dict[str, str], body: bytes) -> None:
        self.etags.pop(path, None)
        self.ids.pop(path, None)
        if reply.get("content-encoding") == "gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError) as e:
                self.counts.bozo += 1
                self.counts.example(f"{path}: bad gzip: {e}")
                return
        ids, why = feed_ids(body)
        if ids is None:
            self.counts.bozo += 1
            self.counts.example(f"{path}: does not parse: {why}")
            return
        if len(ids) != len(set(ids)):
            self.counts.duplicate_ids += 1
            self.counts.example(f"{path}: an id appears twice")
        self.ids[path] = ids
        if "etag" in reply:
            self.etags[path] = reply["etag"]

    def check(self, path: str, ids: list[str], started: float, ended: float, status: int) -> None:
        """The feed this reader now holds against what the writer did."""
        held = set(ids)
        if status == 200:
            self.registry.sighted(held, ended)
        for missing in sorted(self.registry.required(started, ended) - held):
            self.counts.lost += 1
            at = ended - self.registry.started
            self.counts.example(f"{path} ({status}) lacks the published {missing} at {at:.3f} s")
        for stale in sorted(self.registry.gone(started) & held):
            self.counts.stale += 1
            self.counts.example(f"{path} ({status}) still has the deleted {stale}")

    def run(self, stop: threading.Event, errors: list[str]) -> None:
        try:
            while not stop.is_set():
                self.poll(self.rng.choice(self.paths))
        except Exception as e:  # noqa: BLE001 - reported as a failure of the run
            errors.append(f"client: {type(e).__name__}: {e}")


# --- the run ----------------------------------------------------------------------------------


@dataclass
class LoadReport:
    seconds: float
    clients: int
    counts: Counts
    changes: Counter[str]
    latencies: list[float]
    exit_status: int | None
    killed: bool
    tracebacks: int
    errors: list[str]

    def problems(self) -> list[str]:
        """Every failed check; empty when the run passed."""
        c = self.counts
        found = [f"{n} {what}" for n, what in (
            (c.server_errors, "5xx answers"),
            (c.connection_errors, "connection errors"),
            (sum(c.other_statuses.values()), f"unexpected statuses {dict(c.other_statuses)}"),
            (c.bozo, "bodies that do not parse as feeds"),
            (c.duplicate_ids, "feeds naming an id twice"),
            (c.lost, "feeds lacking a published entry"),
            (c.stale, f"feeds holding an entry deleted over {PROMISE:g} s before"),
            (self.tracebacks, "tracebacks in the server log"),
        ) if n]  # fmt: skip
        slow = [t for t in self.latencies if t >= PROMISE]
        if slow:
            found.append(f"{len(slow)} additions not visible within {PROMISE:g} s")
        if c.ok == 0 or c.not_modified == 0 or not self.changes.get("add"):
            found.append("the run exercised too little (no 200, 304 or addition)")
        if self.killed or self.exit_status != 0:
            found.append(f"gunicorn did not stop cleanly on SIGTERM (status {self.exit_status},"
                         f" killed: {self.killed})")  # fmt: skip
        return found + self.errors

    def summary(self) -> str:
        c = self.counts
        seen = [t for t in self.latencies if t != float("inf")]
        slowest = f"{max(self.latencies):.3f} s" if self.latencies else "n/a"
        median = f"{sorted(seen)[len(seen) // 2]:.3f} s" if seen else "n/a"
        lines = [
            f"load with faults: {self.seconds:g} s of changes, {self.clients} clients, "
            "gunicorn -w 2",
            f"requests {c.requests}: 200 {c.ok}, 304 {c.not_modified}, 5xx {c.server_errors}, "
            f"other {dict(c.other_statuses)}, connection errors {c.connection_errors}",
            f"bodies not parsing as feeds {c.bozo}, with an id twice {c.duplicate_ids}",
            f"published entries missing {c.lost}, deleted entries still served {c.stale}",
            f"additions visible: {len(seen)}/{len(self.latencies)}, median {median}, "
            f"max {slowest} (promise {PROMISE:g} s)",
            "changes: " + ", ".join(f"{k} {v}" for k, v in sorted(self.changes.items())),
            f"server log tracebacks {self.tracebacks}; SIGTERM: exit status {self.exit_status}"
            f"{' (killed)' if self.killed else ''}",
        ]
        lines += [f"example: {e}" for e in c.examples[:10]] + self.errors
        return "\n".join(lines)


def threads(targets: Iterable[Callable[[], None]]) -> list[threading.Thread]:
    started = [threading.Thread(target=t, daemon=True) for t in targets]
    for thread in started:
        thread.start()
    return started


def drain(registry: Registry, seconds: float) -> None:
    """Wait until every written entry has been seen, or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while registry.unseen() and time.monotonic() < deadline:
        time.sleep(0.05)


def run_load(
    work: Path,
    seconds: float = 8.0,
    clients: int = 8,
    seed: int = 1,
    *,
    chains: bool = True,
    background: int = 0,
) -> LoadReport:
    """Serve a seeded folder under gunicorn and change it for ``seconds`` under load;
    ``background``: that many generated entries beside them, all older than theirs."""
    folder = work / "entries"
    folder.mkdir(parents=True)
    categories = ""
    if background:
        generate(folder, background, start=START - timedelta(hours=background + 1))
        categories = "".join(
            f'\n[[categories]]\nslug = "{c}"\ntitle = "{c.title()}"\n'
            for c in GENERATED
            if c not in CATEGORIES
        )
    (folder / "site.toml").write_text(SITE_TOML + categories, encoding="utf-8")
    registry = Registry()
    rng = random.Random(seed)
    writer = Writer(folder, registry, random.Random(rng.random()), chains=chains)
    writer.seed(SEED_ENTRIES)
    port = free_port()
    log = work / "gunicorn.log"
    errors: list[str] = []
    with running("gunicorn", gunicorn_argv("wsgi:app", port), port, log,
                 medfeed_env(folder, port)) as server:  # fmt: skip
        registry.serving()
        base = server.url("").rstrip("/")
        readers = [Client(base, registry, random.Random(rng.random()), gzip=i % 2 == 1)
                   for i in range(clients)]  # fmt: skip
        stop_readers, stop_writer = threading.Event(), threading.Event()
        reader_threads = threads(partial(r.run, stop_readers, errors) for r in readers)
        writer_thread = threads([partial(writer.run, stop_writer, errors)])[0]
        time.sleep(seconds)
        stop_writer.set()
        writer_thread.join(10)
        drain(registry, DRAIN)
        stop_readers.set()
        for thread in reader_threads:
            thread.join(15)
        exit_status, killed = server.stop(timeout=10)
    (work / "writer.log").write_text("\n".join(writer.journal) + "\n", encoding="utf-8")
    counts = Counts()
    for reader in readers:
        counts.merge(reader.counts)
    text = log.read_text(encoding="utf-8", errors="replace")
    return LoadReport(seconds, clients, counts, writer.done, registry.latencies(), exit_status,
                      killed, text.count("Traceback"), errors)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-chained-claims",
        action="store_true",
        help="never let a file whose id is claimed claim another's",
    )
    parser.add_argument(
        "--background",
        type=int,
        default=0,
        help="also serve this many generated entries, older than the changing ones",
    )
    parser.add_argument("--scratch", type=Path, default=None, help="where the folder goes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="medfeed-load-", dir=args.scratch) as tmp:
        report = run_load(Path(tmp), args.seconds, args.clients, args.seed,
                          chains=not args.no_chained_claims,
                          background=args.background)  # fmt: skip
        problems = report.problems()
        print(report.summary())
        if problems:
            print("FAILED: " + "; ".join(problems))
            log = Path(tmp) / "gunicorn.log"
            print(log.read_text(encoding="utf-8", errors="replace")[-3000:], file=sys.stderr)
            return 1
    print("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
