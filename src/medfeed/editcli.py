"""The command line's editing commands: ``medfeed new`` and ``medfeed mv``."""

from __future__ import annotations

from pathlib import Path

import click

from medfeed.clioptions import ENTRIES_OPTION, fail
from medfeed.editing import NewEntry, move_entry, new_entry
from medfeed.errors import MedfeedError


@click.command()
@click.argument("title")
@click.option(
    "--category", "categories", multiple=True, required=True, help="A category slug (repeatable)."
)
@click.option("--published", help="RFC 3339 time with offset. Default: now, local offset.")
@click.option("--event-date", help="The event's day (2015-10-12) or month (2014-12).")
@click.option("--summary", help="Plain-text summary (needed with --publish).")
@click.option("--slug", help="The file name without .json. Default: made from the title.")
@click.option(
    "--draft/--publish",
    default=True,
    show_default=True,
    help='Write a draft (seen nowhere until "draft" is false), or publish at once.',
)
@ENTRIES_OPTION
def new(
    title: str,
    categories: tuple[str, ...],
    published: str | None,
    event_date: str | None,
    summary: str | None,
    slug: str | None,
    draft: bool,
    entries: Path,
) -> None:
    """Start a new entry file, as a draft; never overwrites a file.

    Prints the path of the file it wrote. The file name comes from the title (in any
    script) unless --slug names it. To publish the draft, set "draft" to false in the
    file (or delete that line), or write it with --publish.

    Example: medfeed new "Conference in Amman" --category conferences-and-anniversaries
    """
    request = NewEntry(title, categories, published, event_date, summary, not draft, slug)
    try:
        path = new_entry(entries, request)
    except MedfeedError as e:
        raise fail(e) from e
    click.echo(str(path))
    if draft:
        click.echo(
            f'{path}: a draft, published nowhere until you set "draft": false in it '
            "(or delete that line); medfeed validate checks it first",
            err=True,
        )


@click.command()
@click.argument("old")
@click.argument("new")
@ENTRIES_OPTION
def mv(old: str, new: str, entries: Path) -> None:
    """Rename an entry without breaking links or showing it twice in feed readers.

    OLD and NEW are slugs or file names. The entry keeps its id (written into the file
    if it was computed from the old name) and lists the old slug in "aliases": its old
    address redirects to the new one (301) in the app and in static builds.

    Example: medfeed mv vershbow-visits-israel vershbow-visit-to-israel
    """
    try:
        move = move_entry(entries, old, new)
    except MedfeedError as e:
        raise fail(e) from e
    old_slug, new_slug = move.old.name.removesuffix(".json"), move.new.name.removesuffix(".json")
    click.echo(f"{move.old} -> {move.new}")
    kept = "pinned in the file" if move.pinned else "unchanged"
    click.echo(
        f"id {move.id} {kept}; /entries/{old_slug}/ now redirects to /entries/{new_slug}/",
        err=True,
    )
