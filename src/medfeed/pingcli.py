"""The command line's WebSub pings: ``medfeed ping`` and ``medfeed build OUTDIR --ping``.

Both bring the record of what each hub was told (in the state folder, shared with a
running app that uses the same one) up to the entries, then tell each hub, from this
process and with a few retries, of the feeds it does not know in their latest version.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import click

from medfeed.clioptions import ENTRIES_OPTION
from medfeed.coordination import Leader
from medfeed.errors import ConfigError, MedfeedError
from medfeed.loading import load_catalog
from medfeed.pings import Outcome, Send, backoff, send_ping
from medfeed.pingstate import LOCK_FILE, HubStatus, iso, read_record, write_record, write_status
from medfeed.settings import Settings, env_config
from medfeed.site import public_base_url, utc_now
from medfeed.snapshot import Snapshot
from medfeed.websub import PingRecord, hubs_of, topics, update_record

ATTEMPTS = 4
"""Tries per ping before the command gives up on a hub (waiting 1, 2, then 4 s)."""


class PingError(MedfeedError):
    """Pings could not be sent, or not all of them; the record says what is pending."""


@dataclass(frozen=True)
class Ping:
    """One topic to tell one hub of, in this version."""

    hub: str
    url: str
    etag: str | None


def plan(
    folder: Path, snapshot: Snapshot, changed: Collection[str] | None = None
) -> tuple[PingRecord, list[Ping], str | None]:
    """The record brought up to the snapshot, the pings it calls for, and why an earlier
    record could not be used (if so).

    Without a record, every topic is pinged, or only those in ``changed`` (the feeds a
    build wrote) where given.
    """
    record, trouble = read_record(folder)
    if record is None and changed is None:
        changed = [topic.url for topic in topics(snapshot)]
    updated = update_record(record, snapshot, changed=changed or ())
    pings = [
        Ping(hub, url, etag)
        for hub in hubs_of(snapshot)
        for url, etag in updated.pending(hub).items()
    ]
    return updated, pings, trouble


def send(
    folder: Path,
    record: PingRecord,
    pings: Iterable[Ping],
    report: Callable[[Ping, Outcome], None],
    *,
    sender: Send = send_ping,
    attempts: int = ATTEMPTS,
    backoff_base: float = 1.0,
) -> list[tuple[Ping, Outcome]]:
    """Send the pings, hub by hub, and write the record; returns the failed ones.

    A hub that fails a ping ``attempts`` times in a row is tried no further this time:
    its remaining topics stay pending in the record.

    Raises:
        PingError: another process (a running app) is pinging for this state folder.
        OSError: the record cannot be written.
    """
    leader = Leader(folder / LOCK_FILE)
    if not leader.is_leader():
        raise PingError(
            f"another medfeed process pings the hubs of this folder (it holds {leader.path}) "
            "and sends what is pending itself; medfeed ping --dry-run shows what"
        )
    failed: list[tuple[Ping, Outcome]] = []
    statuses: dict[str, HubStatus] = {}
    try:
        for ping in pings:
            if any(done.hub == ping.hub for done, _ in failed):
                failed.append((ping, Outcome(False, True, "not tried: the hub failed before")))
                continue
            outcome = _with_retries(ping, sender, attempts, backoff_base)
            report(ping, outcome)
            now = iso(utc_now())
            last = statuses.get(ping.hub, HubStatus(ping.hub))
            success = now if outcome.ok else last.last_success
            statuses[ping.hub] = HubStatus(ping.hub, now, outcome.status, outcome.ok, success)
            if outcome.ok or not outcome.retry:
                record.mark_told(ping.hub, ping.url, ping.etag)
            else:
                failed.append((ping, outcome))
    finally:
        try:
            write_record(folder, record)
            write_status(folder, list(statuses.values()))
        finally:
            leader.resign()
    return failed


def _with_retries(ping: Ping, sender: Send, attempts: int, backoff_base: float) -> Outcome:
    outcome = sender(ping.hub, ping.url, 10.0)
    for failures in range(1, attempts):
        if outcome.ok or not outcome.retry:
            break
        time.sleep(backoff(failures, backoff_base))
        outcome = sender(ping.hub, ping.url, 10.0)
    return outcome


def ping_build(settings: Settings, snapshot: Snapshot, written: Collection[str]) -> None:
    """Ping for the feeds a build wrote (site paths), once they are in place.

    Raises:
        PingError: some pings failed; they stay pending.
    """
    urls = [topic.url for topic in topics(snapshot) if topic.path in written]
    run(settings.state_folder, snapshot, urls, dry_run=False)


def run(
    folder: Path, snapshot: Snapshot, changed: Collection[str] | None, *, dry_run: bool
) -> None:
    """Work out the pings, print them, and send them unless ``dry_run``.

    Raises:
        PingError: some pings failed (they stay pending), or another process pings.
    """
    if not snapshot.site.hubs:
        click.echo("site.toml names no hubs: nothing to ping", err=True)
        return
    record, pings, trouble = plan(folder, snapshot, changed)
    if trouble:
        click.echo(f"{trouble}; it is replaced by a new record", err=True)
    if dry_run:
        for ping in pings:
            click.echo(f"{ping.hub} {ping.url}")
        click.echo(f"{len(pings)} ping(s) to send; none sent (--dry-run)", err=True)
        return

    def report(ping: Ping, outcome: Outcome) -> None:
        click.echo(f"{ping.hub} {ping.url} {outcome.status}")

    try:
        failed = send(folder, record, pings, report)
    except OSError as e:
        raise PingError(f"cannot write the ping record in {folder} ({e.strerror or e})") from e
    sent = len(pings) - len(failed)
    click.echo(f"{sent} ping(s) sent, {len(failed)} failed", err=True)
    if failed:
        ping, outcome = failed[0]
        raise PingError(
            f"{len(failed)} ping(s) failed ({ping.hub}: {outcome.status}); they stay "
            "pending: run medfeed ping again"
        )


@click.command()
@ENTRIES_OPTION
@click.option("--dry-run", is_flag=True, help="Print what would be pinged; send nothing.")
def ping(entries: Path, dry_run: bool) -> None:
    """Tell the WebSub hubs of site.toml of every feed changed since they were told.

    Compares every feed, current and archive, with the record of earlier pings in the
    state folder (MEDFEED_STATE_DIR: use the running app's, and it shows what the app
    has still to send). Prints one line per ping, `HUB TOPIC [answer]`. Without a
    record, every feed is pinged. Exits 1 if a ping failed; it stays pending.

    Example: medfeed ping --dry-run
    """
    try:
        settings = Settings.from_mapping({**env_config(os.environ), "ENTRIES_DIR": str(entries)})
        catalog = load_catalog(entries)
        if catalog.problems:
            for problem in catalog.problems:
                click.echo(str(problem), err=True)
            raise PingError(
                f"{len(catalog.problems)} problem(s) in the entries: nothing pinged (fix them "
                "first: what readers get would not be these feeds)"
            )
        base_url = public_base_url(settings, catalog)
        snapshot = Snapshot(catalog, base_url, utc_now(), prepare=False)
        run(settings.state_folder, snapshot, None, dry_run=dry_run)
    except ConfigError as e:
        raise click.ClickException("\n".join(str(p) for p in e.problems)) from e
    except MedfeedError as e:
        raise click.ClickException(str(e)) from e
