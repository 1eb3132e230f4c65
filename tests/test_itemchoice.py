"""The live folder works out what it publishes from the files that changed: whatever an
editor does, one change after another, the answer is the one the whole pass over every
file (``choose_items``) gives, and an edit that breaks no rule costs no whole pass."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from conftest import SITE_TOML, entry_data
from medfeed import itemchoice
from medfeed.filestate import FileState
from medfeed.folder import Folder
from medfeed.folderitems import FolderView, choose_items
from medfeed.store import Catalog

SLUGS = ["a", "b", "c", "d"]
IDS = [None, "tag:example.org,2015:one", "tag:example.org,2015:two"]
ALIASES = ["old-a", "old-b", "b", "c"]
TIMES = ["2015-10-12T09:00:00+02:00", "2015-10-13T09:00:00+00:00"]
SITES = [
    SITE_TOML,
    SITE_TOML.replace('authority = "example.org"', 'authority = "example.net"'),
    SITE_TOML + '\n[[categories]]\nslug = "extra"\ntitle = "Extra"\n',
]

# Mostly files that break no rule, as an editor's usually are: the answer is then read off
# what each file claims, and a file breaking a rule now and then sends it to the whole pass.
valid = st.fixed_dictionaries(
    {
        "id": st.sampled_from([None, None, None, *IDS]),
        "aliases": st.lists(st.sampled_from(ALIASES), max_size=2, unique=True)
        | st.just([])
        | st.just([]),
        "categories": st.sampled_from([["visits"], ["visits"], ["extra"], ["conferences"]]),
        "published": st.sampled_from(TIMES),
        "title": st.sampled_from(["A", "B"]),
        "draft": st.booleans(),
    }
)
broken = st.fixed_dictionaries(
    {"id": st.sampled_from(IDS), "aliases": st.lists(st.sampled_from(ALIASES), max_size=2)}
)
operations = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(SLUGS), valid),
    st.tuples(st.just("break"), st.sampled_from(SLUGS), broken),
    st.tuples(st.just("truncate"), st.sampled_from(SLUGS), st.just({})),
    st.tuples(st.just("delete"), st.sampled_from(SLUGS), st.just({})),
    st.tuples(st.just("rename"), st.sampled_from(SLUGS), st.sampled_from(SLUGS)),
    st.tuples(st.just("wait"), st.just(""), st.just({})),
    st.tuples(st.just("site"), st.sampled_from(range(len(SITES))), st.just({})),
    st.tuples(st.just("restart"), st.just(""), st.just({})),
)


_A: dict[str, Any] = {"title": "A", "published": "2015-10-12T09:00:00+02:00"}


def _write(folder: Path, slug: str, fields: dict[str, Any]) -> None:
    data = entry_data(**{k: v for k, v in fields.items() if v is not None})
    path = folder / f"{slug}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    # Every version a new mtime, as an editor's saves a moment apart would have.
    stamp = path.stat().st_mtime_ns + len(data["title"]) * 1_000_000 + id(fields) % 997
    os.utime(path, ns=(stamp, stamp))


def _apply(folder: Path, operation: tuple[str, Any, Any], clock: list[float]) -> set[str]:
    """Do one editor's (or the clock's) move; the names it touched."""
    kind, subject, detail = operation
    if kind == "write":
        _write(folder, subject, detail)
    elif kind == "break":
        fields = {k: v for k, v in detail.items() if v is not None}
        text = json.dumps({**entry_data(**fields), "title": 7})
        (folder / f"{subject}.json").write_text(text, encoding="utf-8")
    elif kind == "truncate":
        (folder / f"{subject}.json").write_text('{"title": "hal', encoding="utf-8")
    elif kind == "delete":
        (folder / f"{subject}.json").unlink(missing_ok=True)
    elif kind == "rename":
        source, target = folder / f"{subject}.json", folder / f"{detail}.json"
        if source.exists() and source != target:
            source.rename(target)
        return {f"{subject}.json", f"{detail}.json"}
    elif kind == "wait":
        clock[0] += 5.0
        return set()
    else:
        (folder / "site.toml").write_text(SITES[subject], encoding="utf-8")
        return {"site.toml"}
    return {f"{subject}.json"}


def newest_change(files: dict[str, FileState], since_ns: int) -> int:
    """The rule for a catalog's newest change, over every file: the newest of
    ``since_ns`` and the mtimes of the versions in use."""
    used = (state.item or state.last_good for state in files.values())
    return max([since_ns, *(item.modified_ns for item in used if item is not None)])


def _expected(folder: Folder) -> tuple[Any, set[Any]]:
    view = FolderView(
        folder.site,
        folder.files,
        folder._vanished,
        folder._published,
        folder._salvaged,
        folder._label,
    )
    items, problems = choose_items(view)
    return items, {*folder.folder_problems, *folder.site_problems, *problems}


def _check(folder: Folder, publish: bool, note: Callable[[str], None] = event) -> Catalog:
    items, problems = _expected(folder)
    catalog = folder.catalog(publish=publish)
    assert len(catalog.items) == len(items)
    assert all(a is b for a, b in zip(catalog.items, items, strict=True))
    assert set(catalog.problems) == problems
    note("told how it changed" if catalog.changes is not None else "counted anew, or first")
    since = max(folder._folder_modified, folder._site_file.modified_ns)
    assert catalog.changed_ns == newest_change(folder.files, since)
    if catalog.changes is not None:
        base = {id(item) for item in catalog.changes.base}
        assert not {id(item) for item in catalog.changes.removed} - base
        base -= {id(item) for item in catalog.changes.removed}
        base |= {id(item) for item in catalog.changes.added}
        assert base == {id(item) for item in catalog.items}
    return catalog


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.lists(st.tuples(st.sampled_from(SLUGS), valid), max_size=4),
    steps=st.lists(st.tuples(operations, st.booleans()), max_size=14),
    bulk=st.sampled_from([0, itemchoice.BULK]),
)
# Found by the search: a file renamed over another takes its alias along, and the file
# written again under the old name breaks a rule, so what readers have of it (with the
# same alias) stands in for it: both claim the alias.
@example(
    start=[("a", {**_A, "aliases": ["old-a"]}), ("b", _A)],
    steps=[
        (("rename", "a", "b"), False),
        (("write", "a", _A), False),
        (("write", "a", {**_A, "categories": ["extra"]}), False),
    ],
    bulk=0,
)
def test_what_is_published_is_what_the_whole_pass_gives(
    start: list[tuple[str, dict[str, Any]]],
    steps: list[tuple[tuple[str, Any, Any], bool]],
    bulk: int,
) -> None:
    # bulk 0: every file is counted anew at start-up and whenever a quarter changed.
    with tempfile.TemporaryDirectory() as tmp, patch.object(itemchoice, "BULK", bulk):
        root = Path(tmp) / "entries"
        root.mkdir()
        (root / "site.toml").write_text(SITE_TOML, encoding="utf-8")
        for slug, fields in start:
            _write(root, slug, fields)
        clock = [0.0]
        state = Path(tmp) / "state"
        folder = Folder(root, deletion_grace=1.0, clock=lambda: clock[0], state=state)
        _check(folder, publish=True)
        for operation, publish in steps:
            if operation[0] == "restart":
                # A new process on the same state folder: what the last one published,
                # from the entry cache, is what it starts from.
                folder.save_cache()
                folder = Folder(root, deletion_grace=1.0, clock=lambda: clock[0], state=state)
                _check(folder, publish)
                continue
            names = _apply(root, operation, clock)
            folder.update(names)
            _check(folder, publish)
        folder.save_cache()  # waits for a write under way, before the folder goes


def test_an_edit_that_breaks_no_rule_costs_no_pass_over_every_file(
    entries_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(20):
        _write(entries_dir, f"entry-{n}", {"published": f"2015-10-{n + 1:02d}T09:00:00Z"})
    _write(entries_dir, "renamed", {"aliases": ["old-a"], "id": IDS[1]})
    folder = Folder(entries_dir, deletion_grace=1.0)
    first = folder.catalog()

    def whole_pass(view: FolderView) -> Any:
        raise AssertionError("the whole pass was made for one file's edit")

    monkeypatch.setattr(itemchoice, "choose_items", whole_pass)
    _write(entries_dir, "entry-3", {"title": "Edited", "published": "2015-10-04T09:00:00Z"})
    _write(entries_dir, "new-one", {"published": "2015-11-01T09:00:00Z"})
    folder.update({"entry-3.json", "new-one.json"})
    catalog = folder.catalog()
    assert [item.slug for item in catalog.items][:1] == ["new-one"]
    assert {item.slug: item.entry.title for item in catalog.items}["entry-3"] == "Edited"
    assert catalog.changes is not None and catalog.changes.base is first.items
    assert {item.slug for item in catalog.changes.added} == {"entry-3", "new-one"}
    # A broken file is still no reason for a whole pass, so long as it claims nothing
    # another file claims.
    (entries_dir / "entry-5.json").write_text('{"title": "hal', encoding="utf-8")
    folder.update({"entry-5.json"})
    broken = folder.catalog()
    assert "entry-5" in {item.slug for item in broken.items}
    assert [p.path.rsplit("/", 1)[-1] for p in broken.problems] == ["entry-5.json"]


@pytest.mark.parametrize("bulk", [0, itemchoice.BULK])
def test_an_id_readers_have_stays_with_its_file_when_another_takes_it(
    entries_dir: Path, monkeypatch: pytest.MonkeyPatch, bulk: int
) -> None:
    # b had the id readers know; it changes its own, and a takes the old one: a is
    # held back (store.assemble), whichever way the answer is worked out, and when
    # every file is counted anew (a new site.toml) in between.
    monkeypatch.setattr(itemchoice, "BULK", bulk)
    _write(entries_dir, "a", {"title": "A"})
    _write(entries_dir, "b", {"id": IDS[1], "title": "B"})
    folder = Folder(entries_dir, deletion_grace=1.0)
    _check(folder, True, print)
    _write(entries_dir, "b", {"id": IDS[2], "title": "B"})
    folder.update({"b.json"})
    # Read off the counts, unless every file is counted anew (bulk 0: one file of two).
    assert (_check(folder, False, print).changes is not None) == (bulk > 0)
    (entries_dir / "site.toml").write_text(SITES[2], encoding="utf-8")
    folder.update({"site.toml"})
    _check(folder, False, print)
    _write(entries_dir, "a", {"id": IDS[1], "title": "A"})
    folder.update({"a.json"})
    catalog = _check(folder, True, print)
    assert {item.source.rsplit("/", 1)[-1]: item.id for item in catalog.items}["a.json"] != IDS[1]
    assert any(p.field == "id" for p in catalog.problems)


def test_a_broken_rule_costs_a_pass_over_the_files_it_concerns_only(
    entries_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(20):
        _write(entries_dir, f"entry-{n}", {"published": f"2015-10-{n + 1:02d}T09:00:00Z"})
    _write(entries_dir, "one", {"id": IDS[1]})
    _write(entries_dir, "two", {"id": IDS[1]})  # the same id: both held back
    _write(entries_dir, "odd", {"categories": ["extra"]})  # not a category of the site
    folder = Folder(entries_dir, deletion_grace=1.0)
    first = folder.catalog()
    passes: list[set[str]] = []

    def counted(view: FolderView) -> Any:
        passes.append(set(view.files))
        return choose_items(view)

    monkeypatch.setattr(itemchoice, "choose_items", counted)
    _write(entries_dir, "entry-3", {"title": "Edited", "published": "2015-10-04T09:00:00Z"})
    folder.update({"entry-3.json"})
    catalog = _check(folder, True, print)
    assert passes == [{"one.json", "two.json", "odd.json"}]
    assert {item.slug for item in catalog.items} == {f"entry-{n}" for n in range(20)}
    assert {p.path.rsplit("/", 1)[-1] for p in catalog.problems} == {
        "one.json",
        "two.json",
        "odd.json",
    }
    assert catalog.changes is not None and catalog.changes.base is first.items
    assert [item.entry.title for item in catalog.changes.added] == ["Edited"]
