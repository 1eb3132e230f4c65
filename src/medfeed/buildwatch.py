"""``medfeed build --watch``: a build, then the output folder kept up to date by a process
that watches the entries folder as the app does (see ``rebuild``).

The publisher makes a new content version as each file changes, and this process puts
in place only the documents that show something else. A file that breaks keeps its last
valid version in the folder, as the app keeps it served; each problem is logged when it
appears and when it is fixed. SIGINT or SIGTERM ends the process once the round under
way is done (a second SIGINT at once).
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import click

from medfeed.build import KEPT_TEXTS, BuildReport, build_over, dates_of, remember_dates
from medfeed.buildtexts import BuildTexts
from medfeed.clioptions import fail, refuse_problems
from medfeed.coordination import Leader
from medfeed.documentkeys import DocumentKeys
from medfeed.errors import MedfeedError
from medfeed.folder import DELETION_GRACE
from medfeed.logs import ProblemLog, configure_logging
from medfeed.outdir import BuildError, Manifest
from medfeed.pingcli import ping_build
from medfeed.rebuild import Built, build_changes
from medfeed.settings import ENV_NAMES, Settings, state_folder_problem
from medfeed.site import Publisher
from medfeed.snapshot import Snapshot
from medfeed.store import Catalog

log = logging.getLogger("medfeed")

POLL = 0.5
"""Seconds between looks at whether the process was asked to stop, while idle."""
RETRY = 5.0
"""Seconds before a round that failed (a file in the way, a full disk) is tried again,
where no change comes first."""


class _Alone(Leader):
    """A watching build says what is wrong itself, whoever else serves the folder."""

    def is_leader(self) -> bool:
        return True


class _Latest:
    """The newest content version the publisher made (its listener), for the building
    thread: versions made while a round is under way are built once, as the newest."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._snapshot: Snapshot | None = None
        self.stopping = False

    def notice(self, snapshot: Snapshot) -> None:
        with self._condition:
            self._snapshot = snapshot
            self._condition.notify()

    def stop(self) -> None:
        self.stopping = True  # read by the building thread between rounds

    def take(self, within: float | None = None) -> Snapshot | None:
        """The newest version not yet taken, once there is one; None once stopping, or
        after ``within`` seconds."""
        deadline = None if within is None else time.monotonic() + within
        with self._condition:
            while self._snapshot is None and not self.stopping:
                if deadline is not None and time.monotonic() >= deadline:
                    break
                self._condition.wait(POLL)
            taken, self._snapshot = self._snapshot, None
        return None if self.stopping else taken


class BuildWatch:
    """The publisher of one entries folder, and the output folder built from it."""

    def __init__(
        self,
        settings: Settings,
        outdir: Path,
        earlier: Manifest | None,
        *,
        deletion_grace: float = DELETION_GRACE,
    ) -> None:
        self._outdir = outdir
        self._earlier = earlier
        self._latest = _Latest()
        problems = ProblemLog(_Alone(settings.state_folder / "build-problems.lock"))
        self.publisher = Publisher(
            settings,
            listener=self._latest,
            ledger=dates_of(earlier),  # what an earlier build wrote keeps its dates
            problems=problems,
            serving=False,
            deletion_grace=deletion_grace,
        )
        self._built: Built | None = None

    @property
    def catalog(self) -> Catalog:
        """What the entries folder publishes now."""
        return self.publisher.catalog

    def build(self) -> BuildReport:
        """Bring the output folder up to date with the folder as it is, with every core
        (the entries' texts kept in the state folder for the next build)."""
        state = self.publisher.settings.state_folder
        snapshot = self.publisher.snapshot()
        shows = DocumentKeys(snapshot)
        # Frozen objects are left alone by the collector: the forked processes that
        # build do not copy the pages that hold them.
        enabled = gc.isenabled()
        gc.disable()
        gc.freeze()
        try:
            done = build_over(snapshot, self._outdir, self._earlier, state, shows)
        finally:
            gc.unfreeze()
            if enabled:
                gc.enable()
        self._built = built = Built.after(self._outdir, snapshot, done, shows)
        if done.unchanged:
            # Documents an earlier build made: their entries' texts are in the state
            # folder (as that build saved them), not in this process. Where this build
            # made every document it holds them all, and reading them would only cost
            # the first round a few hundred milliseconds.
            built.texts = BuildTexts(state, shows, KEPT_TEXTS)
        # Written by other processes: this one learns the dates they gave.
        remember_dates(snapshot.ledger, built.documents)
        snapshot.release()
        return done

    def catch_up(self) -> BuildReport | None:
        """Put in place the newest content version the publisher made since the last
        round, if it made one (``publisher.refresh`` makes them where nothing watches).

        Raises:
            BuildError: files medfeed did not write are in the way; nothing was changed.
            OSError: writing failed; the next round puts in place what this one did not.
        """
        snapshot = self._latest.take(0)
        return None if snapshot is None else self._round(snapshot)

    def _round(self, snapshot: Snapshot) -> BuildReport:
        assert self._built is not None, "build() first"
        return build_changes(snapshot, self._built)

    def run(self, say: Callable[[Snapshot, BuildReport], None]) -> None:
        """Watch the entries folder and bring the output folder up to date after each
        change, telling ``say`` what each round did, until SIGINT or SIGTERM."""
        handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}

        def stop(number: int, frame: FrameType | None) -> None:
            self._latest.stop()
            signal.signal(signal.SIGINT, signal.default_int_handler)  # a second one: now

        for number in handlers:
            signal.signal(number, stop)
        # What lives now lives as long as the process, and the collector is run after
        # each round, not during it: at 100,000 entries its passes over what rounds
        # make cost more than the rounds' own work (2.1 s against 1.3 s a round).
        collecting = gc.isenabled()
        gc.collect()
        gc.freeze()
        gc.disable()
        try:
            self.publisher.watch()
            failed: Snapshot | None = None
            while not self._latest.stopping:
                snapshot = self._latest.take(RETRY if failed else None)
                if self._latest.stopping:
                    break
                snapshot = snapshot or failed
                if snapshot is None:
                    continue
                try:
                    say(snapshot, self._round(snapshot))
                    failed = None
                except (BuildError, OSError) as e:
                    # What this round did not put in place, the next one does.
                    log.error("%s: %s; trying again in %g s", self._outdir, e, RETRY)
                    failed = snapshot
                gc.collect()  # the content versions this round let go of
        finally:
            gc.unfreeze()
            if collecting:
                gc.enable()
            self.publisher.stop()
            for number, handler in handlers.items():
                signal.signal(number, handler)


def watch_build(
    outdir: str,
    target: Path,
    settings: Settings,
    earlier: Manifest | None,
    allow_problems: bool,
    ping_hubs: bool,
) -> None:
    """``medfeed build OUTDIR --watch``, its folders checked: build into ``target``, then
    keep it up to date until stopped."""
    trouble = state_folder_problem(settings)
    if trouble is not None:
        # It holds what a watching process reads at each change: the entries' cache.
        raise click.ClickException(f"{ENV_NAMES['STATE_DIR']}: {trouble}")
    configure_logging()
    try:
        watching = BuildWatch(settings, target, earlier)
    except MedfeedError as e:
        raise fail(e) from e
    refuse_problems(watching.catalog, allow_problems, each=False)  # each one was logged
    try:
        done = watching.build()
    except (BuildError, OSError) as e:
        raise click.ClickException(f"{outdir}: {e}") from e

    def say(snapshot: Snapshot, report: BuildReport, always: bool = False) -> None:
        if always or report.written or report.redated or report.deleted:
            click.echo(report.line(outdir), err=True)
        if ping_hubs and report.written_files:
            written = {"/" + rel.removesuffix("index.html") for rel in report.written_files}
            try:
                ping_build(settings, snapshot, written)
            except MedfeedError as e:
                log.warning("%s", e)  # the next ping tells the hubs what this one did not

    say(watching.publisher.snapshot(), done, always=True)  # as a build says it
    click.echo(f"{outdir}: watching {settings.entries_dir}; Ctrl-C stops", err=True)
    watching.run(say)
