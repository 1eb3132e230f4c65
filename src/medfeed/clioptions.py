"""What every ``medfeed`` command shares: the entries folder option, and how a medfeed
error becomes the command's one-line (or one-line-per-problem) refusal."""

from __future__ import annotations

from pathlib import Path

import click

from medfeed.errors import ConfigError, EntryError, MedfeedError
from medfeed.settings import DEFAULT_ENTRIES

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
