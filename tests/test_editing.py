"""Editors' tools: did-you-mean in validate, `medfeed new`, and the entry JSON Schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from conftest import REMOVE, SEED_ENTRIES, WriteEntry
from medfeed.cli import main
from medfeed.loading import load_catalog

REPO = Path(__file__).resolve().parents[1]
COMMITTED_SCHEMA = REPO / "schema" / "entry.schema.json"
SCHEMA_REF = "../schema/entry.schema.json"


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def folder_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- validate: did you mean ---------------------------------------------------------------


SUGGESTIONS: list[Any] = [
    pytest.param(
        {"title": REMOVE, "titel": "A visit"},
        "entries/x.json: titel: unknown field; did you mean 'title'?",
        id="top-level-field",
    ),
    pytest.param(
        {"event": {"start": "2015-10", "locaton": {"place": "Amman", "country": "Jordan"}}},
        "entries/x.json: event.locaton: unknown field; did you mean 'location'?",
        id="nested-event-field",
    ),
    pytest.param(
        {"authors": [{"nme": "Desk"}]},
        "entries/x.json: authors.0.nme: unknown field; did you mean 'name'?",
        id="field-in-a-list",
    ),
    pytest.param(
        {"categories": ["visit"]},
        "entries/x.json: categories.0: unknown category 'visit'; did you mean 'visits'? "
        "known: conferences, visits",
        id="near-category",
    ),
]


@pytest.mark.parametrize(("overrides", "expected"), SUGGESTIONS)
def test_validate_suggests_the_nearest_name(
    runner: CliRunner,
    entries_dir: Path,
    write_entry: WriteEntry,
    overrides: dict[str, Any],
    expected: str,
) -> None:
    write_entry("x", **overrides)
    result = runner.invoke(main, ["validate", str(entries_dir)])
    assert result.exit_code == 1
    no_traceback(result)
    assert expected in lines(result.stdout), result.output


def test_validate_makes_no_suggestion_for_a_far_off_category(
    runner: CliRunner, entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("x", categories=["sports"])
    result = runner.invoke(main, ["validate", str(entries_dir)])
    assert result.exit_code == 1
    no_traceback(result)
    assert lines(result.stdout) == [
        "entries/x.json: categories.0: unknown category 'sports'; known: conferences, visits"
    ]
    assert "did you mean" not in result.output


def test_validate_makes_no_suggestion_for_a_far_off_field(
    runner: CliRunner, entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("x", zzzzqq="?")
    result = runner.invoke(main, ["validate", str(entries_dir)])
    assert result.exit_code == 1
    assert lines(result.stdout) == ["entries/x.json: zzzzqq: unknown field"]


# --- new ----------------------------------------------------------------------------------


def new(runner: CliRunner, folder: Path, *args: str) -> Result:
    return runner.invoke(main, ["new", *args, "--entries", str(folder)])


def test_new_writes_a_draft_and_says_how_to_publish_it(
    runner: CliRunner, entries_dir: Path
) -> None:
    result = new(runner, entries_dir, "Conference in Amman", "--category", "visits")
    assert result.exit_code == 0, result.output
    no_traceback(result)
    path = entries_dir / "conference-in-amman.json"
    assert lines(result.stdout) == [str(path)]
    assert '"draft": false' in result.stderr
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["title"] == "Conference in Amman"
    assert data["categories"] == ["visits"]
    assert data["draft"] is True
    published = datetime.fromisoformat(data["published"])
    assert published.utcoffset() is not None
    assert abs((datetime.now(UTC) - published).total_seconds()) < 120
    catalog = load_catalog(entries_dir)
    assert catalog.problems == ()
    assert [item.slug for item in catalog.items] == ["conference-in-amman"]
    assert catalog.visible(datetime.now(UTC)) == ()  # nothing published by accident

    # The README's way to publish it: set draft to false.
    data["draft"] = False
    data["summary"] = "A conference in Amman."
    path.write_text(json.dumps(data), encoding="utf-8")
    visible = load_catalog(entries_dir).visible(datetime.now(UTC))
    assert [item.entry.summary for item in visible] == ["A conference in Amman."]


def test_new_publishes_at_once_only_with_a_summary(runner: CliRunner, entries_dir: Path) -> None:
    refused = new(runner, entries_dir, "Conference in Amman", "--category", "visits", "--publish")
    assert refused.exit_code == 1
    no_traceback(refused)
    assert "--summary" in refused.output
    assert folder_names(entries_dir) == ["site.toml"]
    result = new(
        runner, entries_dir, "Conference in Amman", "--category", "visits", "--publish",
        "--summary", "A conference in Amman.",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads((entries_dir / "conference-in-amman.json").read_text(encoding="utf-8"))
    assert "draft" not in data
    visible = load_catalog(entries_dir).visible(datetime.now(UTC))
    assert [item.entry.summary for item in visible] == ["A conference in Amman."]


@pytest.mark.parametrize(
    ("title", "words"),
    [
        ("ביקור נשיא המדינה במטה נאט״ו", 5),
        ("زيارة الأمين العام إلى عمّان", 5),
        ("Визит в Брюссель", 3),
    ],
)
def test_new_names_files_from_titles_in_any_script(
    runner: CliRunner, entries_dir: Path, title: str, words: int
) -> None:
    result = new(runner, entries_dir, title, "--category", "visits")
    assert result.exit_code == 0, result.output
    [written] = lines(result.stdout)
    slug = Path(written).name.removesuffix(".json")
    # Transliterated, one part per word at least: readable, and a valid file name.
    assert slug.isascii() and len(slug.split("-")) >= words, slug
    assert [item.slug for item in load_catalog(entries_dir).items] == [slug]
    if title.startswith("Визит"):
        assert slug == "vizit-v-bryussel"


def test_new_takes_a_slug(runner: CliRunner, entries_dir: Path) -> None:
    result = new(runner, entries_dir, "ביקור", "--category", "visits", "--slug", "presidents-visit")
    assert result.exit_code == 0, result.output
    assert (entries_dir / "presidents-visit.json").is_file()
    bad = new(runner, entries_dir, "Visit", "--category", "visits", "--slug", "Bad Name")
    assert bad.exit_code == 1
    no_traceback(bad)
    assert len(lines(bad.output)) == 1 and "is not a slug" in bad.output


def test_new_takes_the_event_date(runner: CliRunner, entries_dir: Path) -> None:
    result = new(
        runner,
        entries_dir,
        "Conference in Amman",
        "--category",
        "visits",
        "--event-date",
        "2014-12",
    )
    assert result.exit_code == 0, result.output
    data = json.loads((entries_dir / "conference-in-amman.json").read_text(encoding="utf-8"))
    assert data["event"] == {"start": "2014-12"}
    assert load_catalog(entries_dir).problems == ()


def test_new_keeps_the_published_time_given(runner: CliRunner, entries_dir: Path) -> None:
    when = "2016-09-16T10:00:00+02:00"
    result = new(
        runner, entries_dir, "Conference in Amman", "--category", "visits", "--published", when
    )
    assert result.exit_code == 0, result.output
    data = json.loads((entries_dir / "conference-in-amman.json").read_text(encoding="utf-8"))
    assert data["published"] == when
    (item,) = load_catalog(entries_dir).items
    assert item.entry.published == datetime.fromisoformat(when)


def test_new_never_overwrites(runner: CliRunner, entries_dir: Path) -> None:
    first = new(runner, entries_dir, "Conference in Amman", "--category", "visits")
    assert first.exit_code == 0, first.output
    path = entries_dir / "conference-in-amman.json"
    before = path.read_bytes()
    again = new(
        runner,
        entries_dir,
        "Conference in Amman",
        "--category",
        "conferences",
        "--published",
        "2016-09-16T10:00:00+02:00",
    )
    assert again.exit_code != 0
    no_traceback(again)
    assert "already exists" in again.output
    assert path.read_bytes() == before
    assert folder_names(entries_dir) == ["conference-in-amman.json", "site.toml"]


def test_new_refuses_an_unknown_category_and_suggests_one(
    runner: CliRunner, entries_dir: Path
) -> None:
    result = new(runner, entries_dir, "Conference in Amman", "--category", "visit")
    assert result.exit_code != 0
    no_traceback(result)
    assert "'visit'" in result.output
    assert "did you mean 'visits'?" in result.output
    assert folder_names(entries_dir) == ["site.toml"]


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Équipe d'Été: Visit!", "equipe-d-ete-visit"),
        ("  NATO -- Israel  (2016)  ", "nato-israel-2016"),
        ("Stoltenberg's VISIT to Jerusalem, Part 2.", "stoltenberg-s-visit-to-jerusalem-part-2"),
    ],
)
def test_new_makes_a_clean_slug_from_the_title(
    runner: CliRunner, entries_dir: Path, title: str, slug: str
) -> None:
    result = new(runner, entries_dir, title, "--category", "visits")
    assert result.exit_code == 0, result.output
    path = entries_dir / f"{slug}.json"
    assert lines(result.stdout) == [str(path)]
    assert json.loads(path.read_text(encoding="utf-8"))["title"] == title
    catalog = load_catalog(entries_dir)
    assert catalog.problems == ()
    assert [item.slug for item in catalog.items] == [slug]


def test_new_refuses_a_published_time_without_offset(runner: CliRunner, entries_dir: Path) -> None:
    result = new(
        runner,
        entries_dir,
        "Conference in Amman",
        "--category",
        "visits",
        "--published",
        "2016-09-16T10:00:00",
    )
    assert result.exit_code != 0
    no_traceback(result)
    assert "published" in result.output
    assert "offset" in result.output
    assert folder_names(entries_dir) == ["site.toml"]


def test_new_refuses_a_title_with_no_letters_or_digits(
    runner: CliRunner, entries_dir: Path
) -> None:
    result = new(runner, entries_dir, "?!…", "--category", "visits")
    assert result.exit_code != 0
    no_traceback(result)
    assert "file name" in result.output and "--slug" in result.output
    assert folder_names(entries_dir) == ["site.toml"]


def test_new_points_at_the_schema_beside_the_folder(runner: CliRunner, entries_dir: Path) -> None:
    schema = entries_dir.parent / "schema" / "entry.schema.json"
    schema.parent.mkdir()
    schema.write_text(COMMITTED_SCHEMA.read_text(encoding="utf-8"), encoding="utf-8")
    result = new(runner, entries_dir, "Conference in Amman", "--category", "visits")
    assert result.exit_code == 0, result.output
    data = json.loads((entries_dir / "conference-in-amman.json").read_text(encoding="utf-8"))
    assert data["$schema"] == SCHEMA_REF
    assert (entries_dir / data["$schema"]).resolve() == schema.resolve()
    assert load_catalog(entries_dir).problems == ()


def test_new_copes_with_a_long_valid_title(runner: CliRunner, entries_dir: Path) -> None:
    title = " ".join(["Mediterranean"] * 30)  # 419 characters: within a title's 500
    result = new(runner, entries_dir, title, "--category", "visits")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    (path,) = (Path(line) for line in lines(result.stdout))
    assert len(path.name.encode()) <= 255
    assert json.loads(path.read_text(encoding="utf-8"))["title"] == title
    catalog = load_catalog(entries_dir)
    assert catalog.problems == ()
    assert [item.entry.title for item in catalog.items] == [title]


# --- the JSON Schema ----------------------------------------------------------------------


@pytest.fixture
def printed_schema(runner: CliRunner) -> dict[str, Any]:
    result = runner.invoke(main, ["schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert isinstance(schema, dict)
    return schema


def test_schema_describes_an_entry(printed_schema: dict[str, Any]) -> None:
    properties = printed_schema["properties"]
    for name in ("title", "summary", "published", "categories", "$schema"):
        assert name in properties, name
    assert printed_schema["additionalProperties"] is False
    assert {"title", "summary", "published", "categories"} <= set(printed_schema["required"])


def test_committed_schema_is_what_the_command_prints(runner: CliRunner) -> None:
    result = runner.invoke(main, ["schema"])
    assert result.exit_code == 0
    # Byte for byte: regenerate with `medfeed schema > schema/entry.schema.json`.
    assert COMMITTED_SCHEMA.read_text(encoding="utf-8") == result.stdout


def seed_entry_files() -> list[Path]:
    return sorted(SEED_ENTRIES.glob("*.json"))


def test_there_are_bundled_entries() -> None:
    assert len(seed_entry_files()) > 0


@pytest.mark.parametrize("path", seed_entry_files(), ids=lambda p: p.name)
def test_bundled_entry_matches_the_schema(path: Path, printed_schema: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator_class = jsonschema.validators.validator_for(printed_schema)
    validator_class.check_schema(printed_schema)
    validator = validator_class(printed_schema)
    errors = [e.message for e in validator.iter_errors(json.loads(path.read_bytes()))]
    assert errors == []


def test_schema_rejects_an_unknown_field(printed_schema: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    data = json.loads(seed_entry_files()[0].read_bytes())
    data["titel"] = data["title"]
    validator = jsonschema.validators.validator_for(printed_schema)(printed_schema)
    assert not validator.is_valid(data)


@pytest.mark.parametrize("path", seed_entry_files(), ids=lambda p: p.name)
def test_bundled_entry_points_at_the_schema(path: Path) -> None:
    data = json.loads(path.read_bytes())
    assert data["$schema"] == SCHEMA_REF
    target = (SEED_ENTRIES / data["$schema"]).resolve()
    assert target.is_file()
    assert target == COMMITTED_SCHEMA


def test_validate_reports_every_problem_of_a_file_in_one_run(
    runner: CliRunner, entries_dir: Path, make_app: Any
) -> None:
    (entries_dir / "amman.json").write_text(
        json.dumps(
            {
                "titel": "Conference in Amman",
                "summary": "A conference.",
                "published": "2016-09-16T10:00:00",
                "categories": ["conference", "visits"],
            }
        ),
        encoding="utf-8",
    )
    result = runner.invoke(main, ["validate", str(entries_dir)])
    assert result.exit_code == 1
    reported = lines(result.stdout)
    assert "entries/amman.json: titel: unknown field; did you mean 'title'?" in reported
    offset = "entries/amman.json: published: has no time-zone offset"
    assert any(r.startswith(offset) for r in reported)
    assert any(
        r.startswith("entries/amman.json: categories.0: unknown category 'conference'")
        for r in reported
    )
    # The running app reports the same problems at once too.
    health = make_app().test_client().get("/healthz").get_json()
    fields = {p["field"] for p in health["problems"]}
    assert {"titel", "published", "categories.0"} <= fields


# --- new and mv: a slug that is another entry's alias -------------------------------------


@pytest.mark.parametrize("broken", [False, True], ids=["valid", "broken"])
@pytest.mark.parametrize(
    "args", [["Old Name"], ["Anything", "--slug", "old-name"]], ids=["from-title", "slug"]
)
def test_new_refuses_another_entrys_alias(
    runner: CliRunner, entries_dir: Path, write_entry: WriteEntry, args: list[str], broken: bool
) -> None:
    # Only validate flagged it before, once the file was written and redirecting nowhere.
    write_entry("renamed", aliases=["old-name"], **({"titel": "x"} if broken else {}))
    before = folder_names(entries_dir)
    result = new(runner, entries_dir, *args, "--category", "visits")
    assert result.exit_code == 1
    no_traceback(result)
    assert lines(result.output) == [
        "Error: 'old-name' is an alias of entries/renamed.json (an earlier name of that "
        "entry: its old address redirects there); choose another slug"
    ]
    assert folder_names(entries_dir) == before


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["a-visit", "old-name"], "'old-name' is an alias of entries/renamed.json"),
        (["taken", "elsewhere"], "'taken' is already an alias of entries/renamed.json"),
    ],
)
def test_mv_refuses_a_name_that_is_another_entrys_alias(
    runner: CliRunner, entries_dir: Path, write_entry: WriteEntry, args: list[str], says: str
) -> None:
    write_entry("a-visit")
    write_entry("taken", title="Taken")
    write_entry("renamed", title="Renamed", aliases=["old-name", "taken"])
    before = {p.name: p.read_bytes() for p in entries_dir.iterdir()}
    result = runner.invoke(main, ["mv", *args, "--entries", str(entries_dir)])
    assert result.exit_code == 1
    no_traceback(result)
    assert len(lines(result.output)) == 1 and says in result.output, result.output
    assert {p.name: p.read_bytes() for p in entries_dir.iterdir()} == before


def test_mv_back_to_its_own_earlier_name_is_no_alias_clash(
    runner: CliRunner, entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("renamed", aliases=["old-name"])
    result = runner.invoke(main, ["mv", "renamed", "old-name", "--entries", str(entries_dir)])
    assert result.exit_code == 0, result.output
