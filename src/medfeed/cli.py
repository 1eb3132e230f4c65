"""The ``medfeed`` command: check entries and serve the site."""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click

from medfeed.build import build_over, dates_of
from medfeed.buildwatch import watch_build
from medfeed.cachewriter import SavesApart
from medfeed.clioptions import ENTRIES_OPTION, fail, refuse_problems
from medfeed.editcli import mv, new
from medfeed.errors import ConfigError, MedfeedError
from medfeed.loading import check_entries_alone, load_catalog, load_catalog_in_force
from medfeed.models import entry_json_schema
from medfeed.outdir import BuildError, check_outdir, read_manifest
from medfeed.pingcli import ping, ping_build
from medfeed.servecli import serve
from medfeed.settings import ENV_NAMES, Settings, env_config, state_folder_problem
from medfeed.site import public_base_url, utc_now
from medfeed.siterecord import SiteRecord, SiteVersion
from medfeed.snapshot import Snapshot


@contextmanager
def _batch_memory() -> Iterator[None]:
    # A batch job that allocates many objects and keeps them: the cyclic collector
    # would only scan them again and again.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()


@click.group()
@click.version_option(package_name="medfeed")
def main() -> None:
    """Publish a folder of JSON entries as RSS and Atom feeds with HTML pages."""


@dataclass
class Ending:
    """How the ``medfeed`` program ends: a command that has written and closed all it
    makes says so, and the process then ends without freeing what it holds."""

    at_once: bool = False


def program() -> None:
    """``main`` as the ``medfeed`` program.

    After a build (or a whole folder validated), the interpreter would otherwise free
    every object it made, one by one and through the cyclic collector: 4.2 s after a
    100,000-entry build, 0.7 s at 10,000. Where ``main`` runs inside another program
    (tests), no Ending is given and it ends as any click command does."""
    ending = Ending()
    try:
        main(obj=ending)
    except SystemExit as e:
        if not ending.at_once:
            raise
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(e.code if isinstance(e.code, int) else 0 if e.code is None else 1)


def _may_end_at_once() -> None:
    ending = click.get_current_context().find_object(Ending)
    if ending is not None:
        ending.at_once = True


@main.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@ENTRIES_OPTION
def validate(folder: Path | None, entries: Path) -> None:
    """Check every entry file and the folder as a whole.

    Prints one line per problem, `file: field: message`, and exits 1 if there is any.
    The folder is FOLDER or --entries, as the other commands take it.

    Example: medfeed validate entries/
    """
    source = click.get_current_context().get_parameter_source("entries")
    if folder is None:
        folder = entries
    elif source is click.core.ParameterSource.COMMANDLINE and not _same_folder(folder, entries):
        raise click.ClickException(
            f"two entries folders given: {str(folder)!r} and --entries {str(entries)!r}; give one"
        )
    if not folder.is_dir():
        raise click.ClickException(f"{folder}: no such folder")
    try:
        catalog = load_catalog_in_force(folder, _recorded_site(folder))
    except ConfigError as e:
        # The entries are still checked on their own, so that no problem waits for
        # site.toml to be fixed.
        try:
            alone = check_entries_alone(folder)
        except OSError:
            alone = []
        for problem in [*e.problems, *alone]:
            click.echo(str(problem))
        click.echo(
            "site.toml has problems: categories and computed ids are checked once it is fixed",
            err=True,
        )
        sys.exit(1)
    _may_end_at_once()  # whether it finds problems or not: all is said below
    for problem in catalog.problems:
        click.echo(str(problem))
    files = len({p.path for p in catalog.problems})
    if catalog.problems:
        noun = "problem" if len(catalog.problems) == 1 else "problems"
        click.echo(
            f"{len(catalog.problems)} {noun} in {files} file(s); "
            f"{len(catalog.items)} valid entries",
            err=True,
        )
        sys.exit(1)
    click.echo(f"{len(catalog.items)} entries valid in {folder}")


def _recorded_site(folder: Path) -> SiteVersion | None:
    # The settings the app serving this folder has in force, where this user can see
    # its state folder: a site.toml it holds back is reported as the app reports it.
    chosen = env_config(os.environ).get("STATE_DIR")
    settings = Settings(entries_dir=folder, state_dir=Path(chosen) if chosen else None)
    return SiteRecord(settings.state_folder, folder).load()


def _same_folder(one: Path, other: Path) -> bool:
    try:
        return one.resolve() == other.resolve()
    except (OSError, RuntimeError):
        return one == other


@main.command()
@click.argument("outdir")
@ENTRIES_OPTION
@click.option(
    "--allow-problems",
    is_flag=True,
    help="Build the valid entries and leave out every file with a problem.",
)
@click.option(
    "--ping",
    "ping_hubs",
    is_flag=True,
    help="Then tell site.toml's WebSub hubs of the feeds the build changed.",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Then keep OUTDIR up to date as the entries change, until stopped.",
)
def build(outdir: str, entries: Path, allow_problems: bool, ping_hubs: bool, watch: bool) -> None:
    """Write every feed and page as static files, with .gz siblings.

    The files are byte-identical to what the app serves; nginx or any static host can
    serve OUTDIR. Links use the base URL (site.toml or MEDFEED_BASE_URL). Any problem in
    the entries stops the build with nothing changed. A rebuild writes only what changed,
    gives each file its document's Last-Modified as mtime, deletes only files an earlier
    build wrote, and never touches other files. With --ping, each hub is then told of
    the feeds the build wrote, once they are in place (see medfeed ping). With --watch,
    each change of the entries is then put in place within moments, until Ctrl-C.

    Example: medfeed build site/ --ping
    """
    try:
        target = check_outdir(outdir, entries)
        settings = Settings.from_mapping({**env_config(os.environ), "ENTRIES_DIR": str(entries)})
    except BuildError as e:
        raise click.ClickException(str(e)) from e
    except MedfeedError as e:
        raise fail(e) from e
    try:
        earlier = read_manifest(target) if target.is_dir() else None
    except OSError as e:
        raise click.ClickException(f"{outdir}: {e}") from e
    if watch:
        watch_build(outdir, target, settings, earlier, allow_problems, ping_hubs)
        _may_end_at_once()
        return
    state = _usable_state(settings)
    # The entry cache of what was read is written beside the build, on another core.
    apart = SavesApart()
    with _batch_memory(), _waiting_for(apart):
        try:
            catalog = load_catalog(entries, state=state, apart=apart)
        except MedfeedError as e:
            raise fail(e) from e
        # Frozen objects are left alone by the collector, so the forked writer does not
        # copy the pages that hold them.
        gc.freeze()
        refuse_problems(catalog, allow_problems)
        base_url = public_base_url(settings, catalog)
        dates = dates_of(earlier)  # what an earlier build wrote keeps its dates
        snapshot = Snapshot(catalog, base_url, utc_now(), prepare=False, ledger=dates)
        try:
            done = build_over(snapshot, target, earlier, state)
        except (BuildError, OSError) as e:
            raise click.ClickException(f"{outdir}: {e}") from e
    click.echo(done.line(outdir), err=True)
    if ping_hubs:
        written = {"/" + rel.removesuffix("index.html") for rel in done.written_files}
        try:
            ping_build(settings, snapshot, written)
        except MedfeedError as e:
            raise fail(e) from e
    _may_end_at_once()


def _usable_state(settings: Settings) -> Path | None:
    # The state folder only spares a build work (the entry cache, the kept texts): one
    # the app would refuse is said once, as the app says it, and built without.
    trouble = state_folder_problem(settings)
    if trouble is None:
        return settings.state_folder
    click.echo(f"{ENV_NAMES['STATE_DIR']}: {trouble}; building without it", err=True)
    return None


@contextmanager
def _waiting_for(apart: SavesApart) -> Iterator[None]:
    try:
        yield
    finally:
        apart.wait()


main.add_command(new)
main.add_command(mv)
main.add_command(ping)
main.add_command(serve)


@main.command()
def schema() -> None:
    """Print the JSON Schema of an entry file.

    Example: medfeed schema > schema/entry.schema.json
    """
    click.echo(json.dumps(entry_json_schema(), indent=2, ensure_ascii=False))
