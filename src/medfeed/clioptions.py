"""What every ``medfeed`` command shares: the entries folder option, and how a medfeed
error becomes the command's one-line (or one-line-per-problem) refusal, and a build's
refusal of entries with problems."""

from __future__ import annotations

from pathlib import Path

import click

from medfeed.errors import ConfigError, EntryError, MedfeedError
from medfeed.settings import DEFAULT_ENTRIES
from medfeed.store import Catalog

ENTRIES_OPTION = click.option(
    "--entries",
    "entries",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="MEDFEED_ENTRIES",
    default=DEFAULT_ENTRIES,
    show_default=True,
    help="The entries folder (env MEDFEED_ENTRIES).",
)


def fail(error: MedfeedError) -> click.ClickException:
    """The refusal to raise for ``error``: one line per problem, no traceback."""
    if isinstance(error, ConfigError | EntryError):
        return click.ClickException("\n".join(str(p) for p in error.problems))
    return click.ClickException(str(error))


def refuse_problems(catalog: Catalog, allow_problems: bool, *, each: bool = True) -> None:
    """Stop a build where the entries have problems, unless ``allow_problems``; then
    say which files it leaves out. ``each``: print every problem first (where nothing
    logged them)."""
    # A build must not quietly drop what the app still serves as its last good copy.
    for problem in catalog.problems if each else ():
        click.echo(str(problem), err=True)
    if not catalog.problems:
        return
    files = sorted({p.path for p in catalog.problems})
    if not allow_problems:
        raise click.ClickException(
            f"{len(catalog.problems)} problem(s) in {len(files)} file(s): nothing built "
            "(fix them, or build the rest with --allow-problems)"
        )
    built = {item.source for item in catalog.items}
    for path in files:
        if path not in built:
            click.echo(f"left out: {path} (it has problems)", err=True)
