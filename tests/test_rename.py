"""Renaming an entry keeps its id and its links: `medfeed mv`, aliases and their redirects."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner, Result
from flask import Flask

from conftest import BASE_URL, entry_data
from medfeed.cli import main
from medfeed.loading import load_catalog

WriteEntry = Callable[..., Path]
MakeApp = Callable[..., Flask]
OLD_ID = "tag:example.org,2015-10-12:a-visit"


def mv(runner: CliRunner, folder: Path, *args: str) -> Result:
    return runner.invoke(main, ["mv", *args, "--entries", str(folder)])


def atom_ids(app: Flask) -> list[str]:
    parsed = feedparser.parse(app.test_client().get("/feed.atom").data)
    assert parsed.bozo == 0
    return [e.id for e in parsed.entries]


def test_mv_keeps_the_id_and_redirects_the_old_address(
    runner: CliRunner, entries_dir: Path, write_entry: WriteEntry, make_app: MakeApp
) -> None:
    write_entry("a-visit", title="A visit")
    write_entry("b-visit", title="Another", published="2016-01-01T00:00:00Z")
    app = make_app()
    publisher = app.extensions["medfeed"]
    before = atom_ids(app)
    assert OLD_ID in before

    result = mv(runner, entries_dir, "a-visit", "nato-visit")
    assert result.exit_code == 0, result.output
    assert not (entries_dir / "a-visit.json").exists()
    data = json.loads((entries_dir / "nato-visit.json").read_text(encoding="utf-8"))
    assert data["id"] == OLD_ID and data["aliases"] == ["a-visit"]
    assert load_catalog(entries_dir).problems == ()

    publisher.refresh(None)
    assert sorted(atom_ids(app)) == sorted(before)  # no duplicate for a subscribed reader
    client = app.test_client()
    moved = client.get("/entries/a-visit/")
    assert moved.status_code == 301
    assert moved.headers["Location"] == f"{BASE_URL}entries/nato-visit/"
    assert client.get("/entries/a-visit").status_code in (301, 308)
    assert client.get(moved.headers["Location"].removeprefix(BASE_URL[:-1])).status_code == 200
    parsed = feedparser.parse(client.get("/feed.rss").data)
    links = {e.id: e.link for e in parsed.entries}
    assert links[OLD_ID] == f"{BASE_URL}entries/nato-visit/"


def test_mv_twice_and_back_keeps_every_old_address(
    runner: CliRunner, entries_dir: Path, write_entry: WriteEntry, make_app: MakeApp
) -> None:
    write_entry("a-visit")
    assert mv(runner, entries_dir, "a-visit", "b-visit").exit_code == 0
    assert mv(runner, entries_dir, str(entries_dir / "b-visit.json"), "c-visit.json").exit_code == 0
    data = json.loads((entries_dir / "c-visit.json").read_text(encoding="utf-8"))
    assert (data["id"], data["aliases"]) == (OLD_ID, ["a-visit", "b-visit"])
    client = make_app().test_client()
    for old in ("a-visit", "b-visit"):
        reply = client.get(f"/entries/{old}/")
        assert reply.status_code == 301
        assert reply.headers["Location"].endswith("/entries/c-visit/")
    # Back to an earlier name: that name is no longer an alias of itself.
    assert mv(runner, entries_dir, "c-visit", "a-visit").exit_code == 0
    data = json.loads((entries_dir / "a-visit.json").read_text(encoding="utf-8"))
    assert data["aliases"] == ["b-visit", "c-visit"]
    assert load_catalog(entries_dir).problems == ()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("a-visit", "b-visit"), "already exists"),
        (("missing", "new-name"), "no such entry"),
        (("a-visit", "Bad Name"), "is not a slug"),
        (("a-visit", "a-visit"), "same file"),
        (("a-visit", "/elsewhere/x.json"), "not in the entries folder"),
        (("broken", "fixed-name"), "not valid JSON"),
    ],
)
def test_mv_refuses_in_one_line_and_changes_nothing(
    runner: CliRunner,
    entries_dir: Path,
    write_entry: WriteEntry,
    args: tuple[str, str],
    says: str,
) -> None:
    write_entry("a-visit")
    write_entry("b-visit")
    (entries_dir / "broken.json").write_text('{"title": ', encoding="utf-8")
    before = {p.name: p.read_bytes() for p in entries_dir.iterdir()}
    result = mv(runner, entries_dir, *args)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert says in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert {p.name: p.read_bytes() for p in entries_dir.iterdir()} == before


def test_an_alias_naming_another_entry_is_a_problem(
    entries_dir: Path, write_entry: WriteEntry, make_app: MakeApp, runner: CliRunner
) -> None:
    write_entry("a-visit")
    write_entry("b-visit", title="B", id="tag:example.org,2015:b", aliases=["a-visit", "old-b"])
    write_entry("c-visit", title="C", id="tag:example.org,2015:c", aliases=["old-b"])
    result = runner.invoke(main, ["validate", str(entries_dir)])
    assert result.exit_code == 1
    out = result.stdout
    assert "entries/b-visit.json: aliases.0: 'a-visit' is the slug of entries/a-visit.json" in out
    twice = "'old-b' is also an alias of"
    assert f"entries/b-visit.json: aliases.1: {twice} entries/c-visit.json" in out
    assert f"entries/c-visit.json: aliases.0: {twice} entries/b-visit.json" in out
    client = make_app().test_client()
    # Nothing is lost: every entry is published, and no disputed alias redirects.
    assert client.get("/entries/a-visit/").status_code == 200
    assert client.get("/entries/old-b/").status_code == 404
    assert len(atom_ids(make_app())) == 3


def test_an_alias_of_a_draft_does_not_redirect(
    entries_dir: Path, write_entry: WriteEntry, make_app: MakeApp
) -> None:
    write_entry("new-name", draft=True, aliases=["old-name"])
    assert make_app().test_client().get("/entries/old-name/").status_code == 404


def test_the_build_writes_redirects_for_static_hosts(
    runner: CliRunner, entries_dir: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    (entries_dir / "nato-visit.json").write_text(
        json.dumps(entry_data(aliases=["a-visit"])), encoding="utf-8"
    )
    out = tmp_path / "site"
    result = runner.invoke(main, ["build", str(out), "--entries", str(entries_dir)])
    assert result.exit_code == 0, result.output
    assert (out / "_redirects").read_text().splitlines() == [
        "/entries/a-visit/ /entries/nato-visit/ 301",
        "/entries/a-visit /entries/nato-visit/ 301",
        "/entries/a-visit/index.html /entries/nato-visit/ 301",
    ]
    assert (out / ".redirects.map").read_text().splitlines() == [
        "/entries/a-visit/ /entries/nato-visit/;",
        "/entries/a-visit /entries/nato-visit/;",
        "/entries/a-visit/index.html /entries/nato-visit/;",
    ]
