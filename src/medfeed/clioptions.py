"""Options every ``medfeed`` command that reads the entries folder takes."""

from __future__ import annotations

from pathlib import Path

import click

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
