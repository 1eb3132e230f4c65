from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from medfeed import create_app

BASE_URL = "https://news.example.org/"
SEED_ENTRIES = Path(__file__).resolve().parents[1] / "entries"
REMOVE = object()
"""Pass as an override to leave a field out of the written entry."""

SITE_TOML = """\
title = "Test News"
description = "News for tests."
base_url = "https://site.example.org/"
language = "en"
authority = "example.org"

[author]
name = "Test Desk"

[[categories]]
slug = "visits"
title = "Visits"
description = "High-level visits."

[[categories]]
slug = "conferences"
title = "Conferences"
"""

WriteEntry = Callable[..., Path]

SMALL_SITE_DOCUMENTS = [
    "/",
    "/feed.rss",
    "/feed.atom",
    "/feed.json",
    "/events.ics",
    "/feeds.opml",
    "/sitemap.xml",
    "/robots.txt",
    "/categories/visits/",
    "/categories/visits/feed.rss",
    "/categories/visits/feed.atom",
    "/categories/visits/feed.json",
    "/categories/visits/events.ics",
    "/categories/conferences/",
    "/categories/conferences/feed.rss",
    "/categories/conferences/feed.atom",
    "/categories/conferences/feed.json",
    "/categories/conferences/events.ics",
    "/entries/a-visit/",
    "/entries/a-conference/",
    "/favicon.svg",
    "/archive/",
    "/archive/2015/",
    "/archive/2015/10/",
    "/categories/visits/archive/",
    "/categories/visits/archive/2015/",
    "/categories/visits/archive/2015/10/",
    "/categories/conferences/archive/",
    "/categories/conferences/archive/2015/",
    "/categories/conferences/archive/2015/10/",
]
"""Every document of a site with SITE_TOML's categories and the entries "a-visit" (visits)
and "a-conference" (conferences)."""


def entry_data(**overrides: Any) -> dict[str, Any]:
    """A valid entry as a dict, with fields overridden or removed (REMOVE)."""
    data: dict[str, Any] = {
        "title": "A visit",
        "summary": "Someone visited.",
        "content": "The *visit* happened.",
        "published": "2015-10-12T09:00:00+02:00",
        "categories": ["visits"],
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not REMOVE}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests never read the developer's MEDFEED_* settings.
    for name in list(os.environ):
        if name.startswith("MEDFEED_"):
            monkeypatch.delenv(name)


@pytest.fixture
def entries_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "entries"
    folder.mkdir()
    (folder / "site.toml").write_text(SITE_TOML, encoding="utf-8")
    return folder


@pytest.fixture
def write_entry(entries_dir: Path) -> WriteEntry:
    """Write ``<slug>.json`` into the entries folder; returns its path."""

    def write(slug: str = "a-visit", **overrides: Any) -> Path:
        path = entries_dir / f"{slug}.json"
        path.write_text(json.dumps(entry_data(**overrides), indent=2), encoding="utf-8")
        return path

    return write


@pytest.fixture
def make_app(entries_dir: Path) -> Callable[..., Flask]:
    def make(**config: Any) -> Flask:
        settings = {"ENTRIES_DIR": str(entries_dir), "BASE_URL": BASE_URL, "WATCH": False}
        return create_app({**settings, **config})

    return make


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def seed_client() -> FlaskClient:
    app = create_app({"ENTRIES_DIR": str(SEED_ENTRIES), "BASE_URL": BASE_URL, "WATCH": False})
    return app.test_client()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def serve() -> Iterator[Callable[[Flask], str]]:
    """Run an app on a real HTTP server on 127.0.0.1; returns its base URL."""
    servers = []

    def start(app: Flask) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
