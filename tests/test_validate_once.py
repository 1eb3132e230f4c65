"""One run of `medfeed validate` reports every problem of every file: no problem waits
for another to be fixed, whether it ties fields of one file together or spans files. The
running app reports the same problems (/healthz, the log) and still loses nothing."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REMOVE, entry_data
from medfeed.cli import main
from medfeed.errors import EntryError, Problem
from medfeed.loading import load_catalog
from medfeed.reading import validate_entry

WriteEntry = Callable[..., Path]
MakeApp = Callable[..., Flask]
A_VISIT_ID = "tag:example.org,2015-10-12:a-visit"

# Each fault: the file it is in, the fields it sets there, and those that fix it.
FAULTS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "misspelt title": ("multi", {"titel": "Multi", "title": REMOVE}, {}),
    "no offset": ("multi", {"published": "2016-09-16T10:00:00"}, {}),
    "updated first": ("multi", {"updated": "2016-09-10T10:00:00+00:00"}, {}),
    "an id taken": ("multi", {"id": A_VISIT_ID}, {}),
    "an alias that is a slug": ("multi", {"aliases": ["a-visit", "old-m"]}, {}),
    "a category twice": ("multi", {"categories": ["visits", "visits", "Bad"]}, {}),
    "one coordinate": ("multi", {"event": {"start": "2016-09", "location": {"latitude": 1}}}, {}),
    "many authors": (
        "multi",
        {"authors": [{"name": "A"}] * 100 + [{"name": "B", "email": "x"}]},
        {},
    ),
    "unknown category": ("other", {"categories": ["nope"]}, {}),
    "a shared alias": ("other", {"aliases": ["old-m"]}, {}),
    "b-visit's id": ("other", {"id": "tag:example.org,2015:b"}, {}),
}
FIXED: dict[str, dict[str, Any]] = {
    "multi": {"title": "Multi", "published": "2016-09-16T10:00:00+00:00", "aliases": ["old-m"]},
    "other": {"title": "Other", "published": "2016-01-01T00:00:00+00:00"},
}


def write_faults(entries_dir: Path, faults: Iterable[str]) -> None:
    faults = set(faults)
    for slug, fixed in FIXED.items():
        data = entry_data(**fixed)
        for name, (where, broken, repaired) in FAULTS.items():
            if where == slug:
                data.update(broken if name in faults else repaired)
        text = json.dumps({k: v for k, v in data.items() if v is not REMOVE})
        (entries_dir / f"{slug}.json").write_text(text, encoding="utf-8")


def places(problems: tuple[Problem, ...]) -> set[tuple[str, str]]:
    return {(p.path, p.field) for p in problems}


@pytest.fixture
def folder(entries_dir: Path, write_entry: WriteEntry) -> Path:
    write_entry("a-visit")
    write_entry("b-visit", id="tag:example.org,2015:b", aliases=["old-b"])
    return entries_dir


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.sets(st.sampled_from(sorted(FAULTS))))
def test_fixing_any_problem_reveals_no_new_one(folder: Path, faults: set[str]) -> None:
    # The rounds of the audit: each fix made a problem appear that was there all along.
    write_faults(folder, faults)
    before = places(load_catalog(folder).problems)
    for fixed in faults:
        write_faults(folder, faults - {fixed})
        after = places(load_catalog(folder).problems)
        assert after <= before, (fixed, after - before)


def test_the_audit_folder_reports_every_problem_in_one_run(
    runner: CliRunner, folder: Path, write_entry: WriteEntry
) -> None:
    write_faults(folder, ("misspelt title", "no offset", "updated first", "an id taken"))
    data = json.loads((folder / "multi.json").read_text(encoding="utf-8"))
    data["aliases"] = ["a-visit"]
    (folder / "multi.json").write_text(json.dumps(data), encoding="utf-8")
    (folder / "other.json").unlink()
    write_entry("second", title=REMOVE, aliases=["older"])  # broken, and shares an alias
    write_entry("third", title="Third", aliases=["older"])
    result = runner.invoke(main, ["validate", str(folder)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "entries/a-visit.json: id: the id 'tag:example.org,2015-10-12:a-visit' is also used "
        "by entries/multi.json",
        "entries/multi.json: aliases.0: 'a-visit' is the slug of entries/a-visit.json; an "
        "alias names an earlier slug",
        "entries/multi.json: id: the id 'tag:example.org,2015-10-12:a-visit' is also used by "
        "entries/a-visit.json",
        "entries/multi.json: published: has no time-zone offset: write it as e.g. "
        "2016-09-16T10:00:00+02:00 or with Z for UTC",
        "entries/multi.json: titel: unknown field; did you mean 'title'?",
        "entries/multi.json: title: is required",
        "entries/multi.json: updated: should not be before published (2016-09-16T10:00:00)",
        "entries/second.json: aliases.0: 'older' is also an alias of entries/third.json",
        "entries/second.json: title: is required",
        "entries/third.json: aliases.0: 'older' is also an alias of entries/second.json",
    ]
    again = runner.invoke(main, ["validate", str(folder)])
    assert again.stdout == result.stdout


def test_a_broken_file_without_an_id_is_known_by_its_computed_one(
    runner: CliRunner, entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("multi", titel="x", published="2016-09-16T10:00:00")  # no offset: same date
    write_entry("other", id="tag:example.org,2016-09-16:multi")
    result = runner.invoke(main, ["validate", str(entries_dir)])
    said = "the id 'tag:example.org,2016-09-16:multi' is also used by entries/"
    assert f"entries/multi.json: id: {said}other.json" in result.stdout.splitlines()
    assert f"entries/other.json: id: {said}multi.json" in result.stdout.splitlines()


def test_a_time_without_offset_is_compared_as_if_it_had_the_others(folder: Path) -> None:
    def updated_problems(published: str, updated: str) -> list[str]:
        data = entry_data(published=published, updated=updated)
        with pytest.raises(EntryError) as info:
            validate_entry(data, "x.json")
        return [p.message for p in info.value.problems if p.field == "updated"]

    assert updated_problems("2016-09-16T10:00:00", "2016-09-16T09:00:00+02:00") == [
        "should not be before published (2016-09-16T10:00:00)"
    ]
    assert updated_problems("2016-09-16T10:00:00", "2016-09-16T11:00:00+02:00") == []
    # Both without offsets: each says so, and the order is still checked.
    assert updated_problems("2016-09-16", "2016-09-15T10:00") == [
        "has no time-zone offset: write it as e.g. 2016-09-16T10:00:00+02:00 or with Z for UTC",
        "should not be before published (2016-09-16T00:00:00)",
    ]


@pytest.mark.parametrize(
    "overrides",
    [
        {"updated": "2015-10-01T00:00:00Z"},
        {"categories": ["visits", "visits"]},
        {"aliases": ["old", "old"]},
        {"event": {"start": "2015-10", "location": {"place": "P", "country": "C", "latitude": 1}}},
        {"authors": [{"name": "A"}] * 101},
    ],
    ids=["updated", "categories", "aliases", "location", "authors"],
)
def test_a_rule_pydantic_checks_is_reported_once(overrides: dict[str, Any]) -> None:
    # The rules checked again beside pydantic's must say exactly what pydantic says.
    with pytest.raises(EntryError) as alone:
        validate_entry(entry_data(**overrides), "x.json")
    with pytest.raises(EntryError) as with_another:
        validate_entry(entry_data(**overrides, titel="x"), "x.json")
    assert len(alone.value.problems) == 1, alone.value.problems
    rest = [p for p in with_another.value.problems if p.field != "titel"]
    assert rest == list(alone.value.problems)


def test_an_entry_broken_with_anothers_id_costs_nothing(
    folder: Path, write_entry: WriteEntry, make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="medfeed")
    app = make_app()
    publisher = app.extensions["medfeed"]
    client = app.test_client()
    assert client.get("/entries/b-visit/").status_code == 200
    # b-visit breaks (a misspelt field) and takes a-visit's id; a new broken file takes
    # an alias that is a slug.
    write_entry("b-visit", id=A_VISIT_ID, aliases=["old-b"], titel="x")
    write_entry("new-one", summary=REMOVE, aliases=["a-visit"])
    publisher.refresh(None)
    expected = load_catalog(folder).problems
    assert (
        Problem(
            "entries/b-visit.json",
            "id",
            f"the id {A_VISIT_ID!r} is also used by entries/a-visit.json",
        )
        in expected
    )
    assert any(p.path == "entries/new-one.json" and p.field == "aliases.0" for p in expected)
    health = client.get("/healthz").get_json()
    reported = [(p["path"], p["field"], p["message"]) for p in health["problems"]]
    assert reported == [(p.path.split("/", 1)[1], p.field, p.message) for p in expected]
    logged = {r.getMessage() for r in caplog.records if r.levelno == logging.WARNING}
    assert {str(p) for p in expected} <= logged
    # Nothing lost: both entries stay published in their last good versions.
    assert client.get("/entries/a-visit/").status_code == 200
    assert client.get("/entries/b-visit/").status_code == 200
    assert client.get("/entries/old-b/").status_code == 301


def test_a_broken_site_toml_does_not_hide_the_entries_problems(
    runner: CliRunner, folder: Path, write_entry: WriteEntry
) -> None:
    site = folder / "site.toml"
    text = site.read_text(encoding="utf-8")
    site.write_text(text.replace('authority = "example.org"', 'authority = "not a domain"'))
    write_entry("multi", titel="x", aliases=["a-visit"], id="tag:example.org,2015:b")
    result = runner.invoke(main, ["validate", str(folder)])
    assert result.exit_code == 1
    assert [line.split(": ")[:2] for line in result.stdout.splitlines()] == [
        ["entries/site.toml", "authority"],
        ["entries/b-visit.json", "id"],
        ["entries/multi.json", "aliases.0"],
        ["entries/multi.json", "id"],
        ["entries/multi.json", "titel"],
    ]
    assert "checked once it is fixed" in result.stderr


def test_a_file_that_is_not_json_still_has_its_slug(
    runner: CliRunner, folder: Path, write_entry: WriteEntry
) -> None:
    (folder / "draft-two.json").write_text("{", encoding="utf-8")
    (folder / "Not-A-Slug.json").write_text("{", encoding="utf-8")
    write_entry("multi", aliases=["draft-two", "not-a-slug"])
    lines = runner.invoke(main, ["validate", str(folder)]).stdout.splitlines()
    assert (
        "entries/multi.json: aliases.0: 'draft-two' is the slug of entries/draft-two.json; "
        "an alias names an earlier slug" in lines
    )
    assert not any(line.startswith("entries/multi.json: aliases.1") for line in lines)


def test_a_file_that_writes_a_bad_id_is_not_known_by_a_computed_one(
    runner: CliRunner, entries_dir: Path, write_entry: WriteEntry
) -> None:
    # Its id is whatever it will write once fixed, not the one computed from its name.
    write_entry("multi", id="not a uri", published="2016-09-16T10:00:00+00:00")
    write_entry("other", id="tag:example.org,2016-09-16:multi")
    lines = runner.invoke(main, ["validate", str(entries_dir)]).stdout.splitlines()
    assert [line.split(": ")[:2] for line in lines] == [["entries/multi.json", "id"]]
    assert "should be an absolute URI" in lines[0]
