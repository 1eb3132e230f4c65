"""The last valid site.toml outlives the process: one that starts while site.toml is
broken (a worker gunicorn starts again, a restart) serves what the others serve and
reports the same site.toml problem, as does `medfeed validate`; a record in any doubt
is not used."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner

from conftest import BASE_URL, SITE_TOML, WriteEntry
from medfeed import create_app
from medfeed.cli import main
from medfeed.entrycache import CACHE_FILE
from medfeed.errors import ConfigError
from medfeed.settings import Settings
from medfeed.site import Publisher
from medfeed.siterecord import RECORD_FILE, SiteRecord

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from servers import Server, children, free_port, get, gunicorn_argv, medfeed_env, running  # noqa: E402

PATHS = [
    "/",
    "/feed.atom",
    "/feed.rss",
    "/feed.json",
    "/events.ics",
    "/feeds.opml",
    "/categories/visits/feed.atom",
    "/categories/conferences/feed.atom",
    "/categories/conferences/",
    "/entries/a-visit/",
    "/entries/a-conference/",
]

CONFERENCES = '[[categories]]\nslug = "conferences"\ntitle = "Conferences"\n'
BREAKAGES: dict[str, Callable[[Path], None]] = {
    "category misspelt": lambda site: site.write_text(
        SITE_TOML.replace('slug = "conferences"', 'slug = "conferencs"'), encoding="utf-8"
    ),
    "category removed": lambda site: site.write_text(
        SITE_TOML.replace(CONFERENCES, ""), encoding="utf-8"
    ),
    "TOML syntax error": lambda site: site.write_text(
        SITE_TOML.replace('title = "Test News"', 'title = "Test News'), encoding="utf-8"
    ),
    "invalid value": lambda site: site.write_text(
        SITE_TOML.replace('base_url = "https://site.example.org/"', 'base_url = "ftp://x/"'),
        encoding="utf-8",
    ),
    "text XML cannot carry": lambda site: site.write_text(
        SITE_TOML.replace('name = "Test Desk"', 'name = "Test\\u0001Desk"'), encoding="utf-8"
    ),
    "deleted": lambda site: site.unlink(),
    "a FIFO": lambda site: (site.unlink(), os.mkfifo(site)),
}


def settings_of(entries_dir: Path, state: Path) -> Settings:
    return Settings(entries_dir=entries_dir, base_url=BASE_URL, watch=False, state_dir=state)


def documents(pub: Publisher) -> dict[str, bytes | None]:
    snapshot = pub.snapshot()
    found = {}
    for path in PATHS:
        doc = snapshot.document(path)
        found[path] = doc.body if doc is not None else None
    return found


FEEDS = ["/feed.atom", "/categories/visits/feed.atom", "/categories/conferences/feed.atom"]


def ids(feed: bytes | None) -> list[str]:
    assert feed is not None
    return [entry.id for entry in feedparser.parse(feed).entries]


def problems(pub: Publisher) -> list[str]:
    return [str(p) for p in pub.health().problems]


def two_entries(write_entry: WriteEntry) -> None:
    write_entry("a-visit")
    write_entry("a-conference", title="A conference", categories=["visits", "conferences"])


@pytest.mark.parametrize("cache", ["cache kept", "cache lost"])
@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_a_process_started_while_site_toml_is_broken_serves_what_the_first_did(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path, breakage: str, cache: str
) -> None:
    two_entries(write_entry)
    state = tmp_path / "state"
    first = Publisher(settings_of(entries_dir, state))
    before = documents(first)
    assert all(before.values())

    BREAKAGES[breakage](entries_dir / "site.toml")
    first.refresh({"site.toml"})
    served = documents(first)
    # The same items everywhere (a file deleted or added moves the folder's date).
    assert {path: ids(served[path]) for path in FEEDS} == {
        path: ids(before[path]) for path in FEEDS
    }
    reported = problems(first)
    assert reported and all(p.startswith("entries/site.toml: ") for p in reported)
    first.folder.save_cache()
    if cache == "cache lost":  # another medfeed version, say: the record alone holds
        (state / CACHE_FILE).unlink()

    second = Publisher(settings_of(entries_dir, state))
    assert documents(second) == served
    assert problems(second) == reported
    assert second.catalog.site == first.catalog.site
    # And as a whole app, as gunicorn's workers make it.
    app = create_app(settings=settings_of(entries_dir, state))
    health = app.test_client().get("/healthz").get_json()
    assert [f"entries/{p['path']}: {p['field']}: {p['message']}".replace(": : ", ": ")
            for p in health["problems"]] == reported  # fmt: skip


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_validate_reports_a_held_back_site_toml_as_the_app_does(
    entries_dir: Path,
    write_entry: WriteEntry,
    tmp_path: Path,
    runner: CliRunner,
    breakage: str,
) -> None:
    two_entries(write_entry)
    state = tmp_path / "state"
    pub = Publisher(settings_of(entries_dir, state))
    BREAKAGES[breakage](entries_dir / "site.toml")
    pub.refresh({"site.toml"})

    env = {"MEDFEED_STATE_DIR": str(state)}
    result = runner.invoke(main, ["validate", str(entries_dir)], env=env)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == problems(pub)
    assert "categories." not in result.stdout  # no entry is blamed for site.toml
    assert result.stderr.splitlines()[-1].endswith(" in 1 file(s); 2 valid entries")


def test_validate_without_the_record_blames_the_entries(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path, runner: CliRunner
) -> None:
    # A pre-commit hook, say: what was published is not known there.
    two_entries(write_entry)
    BREAKAGES["category misspelt"](entries_dir / "site.toml")
    env = {"MEDFEED_STATE_DIR": str(tmp_path / "elsewhere")}
    result = runner.invoke(main, ["validate", str(entries_dir)], env=env)
    assert result.exit_code == 1
    assert result.stdout.startswith("entries/a-conference.json: categories.1: unknown category")
    assert not (tmp_path / "elsewhere").exists()  # validate makes nothing


def test_the_record_follows_each_valid_edit(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    two_entries(write_entry)
    state = tmp_path / "state"
    first = Publisher(settings_of(entries_dir, state))
    site = entries_dir / "site.toml"
    site.write_text(SITE_TOML.replace("Test News", "Renamed News"), encoding="utf-8")
    first.refresh({"site.toml"})
    assert first.catalog.site.title == "Renamed News"
    BREAKAGES["TOML syntax error"](site)
    first.refresh({"site.toml"})

    second = Publisher(settings_of(entries_dir, state))
    assert second.catalog.site.title == "Renamed News"
    assert second.catalog.site_modified_ns == first.catalog.site_modified_ns
    assert documents(second) == documents(first)


def test_a_valid_site_toml_edited_while_nothing_ran_is_taken(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    two_entries(write_entry)
    state = tmp_path / "state"
    Publisher(settings_of(entries_dir, state))
    text = SITE_TOML.replace("Test News", "Renamed News")
    text += '\n[[categories]]\nslug = "talks"\ntitle = "Talks"\n'
    (entries_dir / "site.toml").write_text(text, encoding="utf-8")

    again = Publisher(settings_of(entries_dir, state))
    assert again.catalog.site.title == "Renamed News"
    assert [c.slug for c in again.catalog.site.categories] == ["visits", "conferences", "talks"]
    assert problems(again) == []
    recorded = SiteRecord(state, entries_dir).load()
    assert recorded is not None and recorded.site == again.catalog.site


def test_a_broken_site_toml_with_nothing_recorded_still_stops_start_up(
    entries_dir: Path, tmp_path: Path
) -> None:
    BREAKAGES["TOML syntax error"](entries_dir / "site.toml")
    with pytest.raises(ConfigError) as info:
        Publisher(settings_of(entries_dir, tmp_path / "state"))
    [problem] = info.value.problems
    assert str(problem).startswith("entries/site.toml: is not valid TOML")


# --- a record in any doubt is not used ----------------------------------------------------------


def _rewrite(state: Path, change: Callable[[dict[str, object]], object]) -> None:
    path = state / RECORD_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


DOUBTS: dict[str, Callable[[Path, Path], object]] = {
    "truncated": lambda state, _: (state / RECORD_FILE).write_bytes(
        (state / RECORD_FILE).read_bytes()[:40]
    ),
    "not JSON": lambda state, _: (state / RECORD_FILE).write_bytes(b"\x00\xff" * 10),
    "a JSON list": lambda state, _: (state / RECORD_FILE).write_text("[]"),
    "another folder's": lambda state, _: _rewrite(state, lambda d: d.update(root="/elsewhere")),
    "another format": lambda state, _: _rewrite(state, lambda d: d.update(format="x 9")),
    "text no longer valid": lambda state, _: _rewrite(
        state, lambda d: d.update(text=str(d["text"]).replace("authority", "authorty"))
    ),
    "text not TOML": lambda state, _: _rewrite(state, lambda d: d.update(text="title = ")),
    "mtime not a number": lambda state, _: _rewrite(state, lambda d: d.update(modified_ns="1")),
    "writable by others": lambda state, _: os.chmod(state / RECORD_FILE, 0o666),
    "a link": lambda state, tmp: (
        (tmp / "elsewhere.record").write_bytes((state / RECORD_FILE).read_bytes()),
        (state / RECORD_FILE).unlink(),
        (state / RECORD_FILE).symlink_to(tmp / "elsewhere.record"),
    ),
    "a FIFO": lambda state, _: ((state / RECORD_FILE).unlink(), os.mkfifo(state / RECORD_FILE)),
    "a folder": lambda state, _: ((state / RECORD_FILE).unlink(), (state / RECORD_FILE).mkdir()),
}


@pytest.mark.parametrize("doubt", list(DOUBTS))
def test_a_record_in_doubt_is_not_used(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path, doubt: str
) -> None:
    two_entries(write_entry)
    state = tmp_path / "state"
    Publisher(settings_of(entries_dir, state))
    DOUBTS[doubt](state, tmp_path)
    record = SiteRecord(state, entries_dir)
    assert record.load() is None and record.trouble

    # With a broken site.toml, start-up fails as if nothing were recorded...
    site = entries_dir / "site.toml"
    BREAKAGES["TOML syntax error"](site)
    with pytest.raises(ConfigError):
        Publisher(settings_of(entries_dir, state))
    # ...and with a valid one, it starts from it.
    site.write_text(SITE_TOML.replace("Test News", "Fixed News"), encoding="utf-8")
    again = Publisher(settings_of(entries_dir, state))
    assert again.catalog.site.title == "Fixed News" and problems(again) == []


# --- under gunicorn: workers killed, then a restart ---------------------------------------------


def test_gunicorn_workers_started_while_site_toml_is_broken_serve_the_last_valid_one(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    pytest.importorskip("gunicorn")
    two_entries(write_entry)
    state = tmp_path / "state"
    port = free_port()
    env = {**medfeed_env(entries_dir, port), "MEDFEED_STATE_DIR": str(state)}
    argv = gunicorn_argv("wsgi:app", port)
    log = tmp_path / "gunicorn.log"

    def seen(server: Server, rounds: int = 12) -> set[tuple[int, int, str]]:
        """What requests get: items in the feed, the category feed's status, problems."""
        answers = set()
        for _ in range(rounds):
            feed = feedparser.parse(get(server.url("/feed.atom"))[2])
            category = get(server.url("/categories/conferences/feed.atom"))[0]
            health = json.loads(get(server.url("/healthz"))[2])
            shown = " ".join(f"{p['path']}:{p['field']}" for p in health["problems"])
            answers.add((len(feed.entries), category, shown))
        return answers

    def within(check: Callable[[], bool], seconds: float = 20.0) -> None:
        deadline = time.monotonic() + seconds
        while not check():
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8")[-3000:]
            time.sleep(0.1)

    held = (2, 200, "site.toml:categories")
    with running("gunicorn", argv, port, log, env) as server:
        assert seen(server) == {(2, 200, "")}
        BREAKAGES["category misspelt"](entries_dir / "site.toml")
        within(lambda: seen(server, 6) == {held})
        # Each worker killed in turn: every answer then comes from one started since.
        for worker in children(server.process.pid):
            os.kill(worker, signal.SIGKILL)

            def replaced(worker: int = worker) -> bool:
                workers = children(server.process.pid)
                return worker not in workers and len(workers) == 2

            within(replaced)
            assert seen(server) == {held}
    with running("gunicorn", argv, port, log, env) as server:
        assert seen(server) == {held}
    assert "Traceback" not in log.read_text(encoding="utf-8")
