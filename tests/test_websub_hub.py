"""WebSub against a real hub (flask-websub, tests/websubhub.py) and a real subscriber on
127.0.0.1: entries edited, added and deleted in a running app reach the subscriber once
per change and per changed feed, within seconds, signed and with the feed's media type;
a hub that is down or answers 500 gets every change once it is back; under gunicorn
with four workers one process pings, a restart pings nothing, and requests do not wait
on a hub; a static build served by nginx pings for what it changed.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

from conftest import SITE_TOML, entry_data
from medfeed import create_app
from medfeed.cli import main
from medfeed.pinger import Pinger
from medfeed.websub import topics
from websubhub import HubServer, Subscriber, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from servers import free_port, get, gunicorn_argv, medfeed_env, running  # noqa: E402

HOST = "127.0.0.1"
PROMISE = 5.0
"""Seconds from a change to its delivery that the issue promises."""
SETTLE = 1.0
"""Seconds to wait after the expected deliveries for any that should not come."""


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubServer]:
    server = HubServer(tmp_path, free_port())
    yield server.start()
    server.stop()


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    client = Subscriber()
    yield client
    client.close()


def write(folder: Path, slug: str, **fields: Any) -> None:
    """Write an entry whole (a rename), a second newer than any earlier version."""
    path = folder / f"{slug}.json"
    temp = folder / f".{slug}.tmp"
    temp.write_text(json.dumps(entry_data(**fields)), encoding="utf-8")
    stamp = max(time.time_ns(), path.stat().st_mtime_ns if path.exists() else 0) + 10**9
    os.utime(temp, ns=(stamp, stamp))
    os.replace(temp, path)


def make_site(folder: Path, hubs: list[str]) -> Path:
    """Four entries over three months with item_limit 1: current feeds and archives."""
    folder.mkdir()
    listed = ", ".join(json.dumps(h) for h in hubs)
    (folder / "site.toml").write_text(f"item_limit = 1\nhubs = [{listed}]\n{SITE_TOML}", "utf-8")
    write(folder, "oct-visit", title="October", published="2015-10-12T09:00:00Z")
    write(folder, "oct-talks", categories=["conferences"], published="2015-10-20T09:00:00Z")
    write(folder, "nov-visit", title="November", published="2015-11-12T09:00:00Z")
    write(folder, "dec-visit", title="December", published="2015-12-12T09:00:00Z")
    return folder


class Site:
    """The feeds of a running site, read over HTTP."""

    def __init__(self, base: str, urls: list[str]) -> None:
        self.base = base
        self.urls = urls

    def bodies(self) -> dict[str, tuple[bytes, str]]:
        found = {}
        for url in self.urls:
            status, headers, body = get(url)
            if status == 200:
                found[url] = (body, headers["content-type"])
        return found


def served_topics(app: Any) -> list[str]:
    return [t.url for t in topics(app.extensions["medfeed"].snapshot())]


@pytest.fixture
def live(tmp_path: Path, hub: HubServer) -> Iterator[Callable[..., tuple[Path, Site, Path, Any]]]:
    """Start the app on a real server, watching, with a quick pinger; returns the entries
    folder, the site (every feed it serves), the state folder and the app."""
    stops: list[Callable[[], None]] = []

    def start(**pinger: Any) -> tuple[Path, Site, Path, Any]:
        entries = make_site(tmp_path / "entries", [hub.url])
        state = tmp_path / "state"
        port = free_port()
        base = f"http://{HOST}:{port}/"
        settings = {"ENTRIES_DIR": str(entries), "BASE_URL": base, "WATCH": True}
        # One process: no other worker to wait for before pinging.
        quick = {"backoff_base": 0.1, "backoff_cap": 1.0, "lead_retry": 0.2, "timeout": 5.0,
                 "settle": 0.1}  # fmt: skip
        listener = Pinger(state, **{**quick, **pinger})
        app = create_app({**settings, "STATE_DIR": str(state)}, listener=listener)
        server = make_server(HOST, port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        stops.extend([server.shutdown, app.extensions["medfeed"].stop])
        assert get(base)[0] == 200  # the first request starts watching, and pinging
        assert wait_for(lambda: (state / "websub.json").exists(), 5), "no baseline"
        return entries, Site(base, served_topics(app)), state, app

    yield start
    for stop in stops:
        stop()


def subscribe_all(subscriber: Subscriber, hub: HubServer, urls: list[str]) -> None:
    for url in urls:
        subscriber.subscribe(hub.url, url)


def check_change(
    change: Callable[[], None],
    site: Site,
    app: Any,
    hub: HubServer,
    subscriber: Subscriber,
) -> float:
    """Make a change and check what the hub and the subscriber get; the seconds from the
    change to the last delivery."""
    before = Site(site.base, served_topics(app)).bodies()
    published, delivered = len(hub.published()), len(subscriber.received())
    started = time.monotonic()
    change()
    # The app swaps whole snapshots: once one feed differs, every feed is the new one.
    assert wait_for(lambda: Site(site.base, list(before)).bodies() != before, 5), "no change"
    after = Site(site.base, served_topics(app)).bodies()
    changed = {url for url in after if before.get(url, (None,))[0] != after[url][0]}
    subscribed = changed & set(site.urls)
    assert changed, "the change changed no feed"
    assert wait_for(lambda: len(subscriber.received()) - delivered >= len(subscribed), 10)
    time.sleep(SETTLE)
    pings = [p["hub.topic"] for p in hub.published()[published:]]
    assert sorted(pings) == sorted(changed), "one ping per changed feed, no other"
    assert all(p["hub.url"] == p["hub.topic"] for p in hub.published()[published:])
    got = subscriber.received()[delivered:]
    assert sorted(d.topic for d in got) == sorted(subscribed), "one delivery per change"
    for delivery in got:
        body, content_type = after[delivery.topic]
        assert delivery.body == body
        assert delivery.content_type == content_type
        assert delivery.signed
    return max((d.at for d in got), default=started) - started


def test_subscribers_get_each_changed_feed_once_within_seconds(
    live: Callable[..., tuple[Path, Site, Path, Any]], hub: HubServer, subscriber: Subscriber
) -> None:
    entries, site, state, app = live()
    subscribe_all(subscriber, hub, site.urls)
    delays = [
        # An entry of the archive: only its month's archive documents change.
        check_change(
            lambda: write(entries, "nov-visit", title="Edited", published="2015-11-12T09:00:00Z"),
            site, app, hub, subscriber,
        ),
        # A new entry: current feeds, and a new archive month (pinged, not subscribed yet).
        check_change(
            lambda: write(entries, "jan-visit", title="New", published="2016-01-12T09:00:00Z"),
            site, app, hub, subscriber,
        ),
        # A deletion.
        check_change(lambda: (entries / "oct-visit.json").unlink(), site, app, hub, subscriber),
    ]  # fmt: skip
    assert max(delays) < PROMISE, delays
    print(f"change to delivery: {', '.join(f'{d:.2f}' for d in delays)} s")
    health = get(site.base + "healthz")[2]
    [status] = json.loads(health)["hubs"]
    assert (status["url"], status["ok"], status["pending"]) == (hub.url, True, 0)
    assert status["status"].startswith("202")


def test_a_hub_that_was_down_gets_each_pending_feed_once(
    live: Callable[..., tuple[Path, Site, Path, Any]], hub: HubServer, subscriber: Subscriber
) -> None:
    entries, site, state, app = live()
    subscribe_all(subscriber, hub, site.urls)
    hub.stop()
    before = site.bodies()
    for title in ("First edit", "Second edit"):  # two changes while it is down: one ping
        write(entries, "dec-visit", title=title, published="2015-12-12T09:00:00Z")
        assert wait_for(lambda t=title: t.encode() in get(site.base + "feed.atom")[2], 5)
    assert wait_for(
        lambda: json.loads(get(site.base + "healthz")[2])["hubs"][0]["failures"] >= 2, 5
    )
    [status] = json.loads(get(site.base + "healthz")[2])["hubs"]
    assert (status["ok"], status["status"]) == (False, "connection refused")
    assert status["pending"] == 6
    hub.start()
    changed = [url for url, got in site.bodies().items() if got != before[url]]
    assert wait_for(lambda: len(subscriber.received()) >= len(changed), 5)
    time.sleep(SETTLE)
    assert sorted(d.topic for d in subscriber.received()) == sorted(changed)
    assert all(b"Second edit" in d.body and d.signed for d in subscriber.received())
    assert json.loads(get(site.base + "healthz")[2])["hubs"][0]["pending"] == 0


def test_a_hub_that_answers_500_is_asked_again(
    live: Callable[..., tuple[Path, Site, Path, Any]], hub: HubServer, subscriber: Subscriber
) -> None:
    entries, site, state, app = live()
    subscribe_all(subscriber, hub, site.urls)
    hub.fail_next = 2
    delay = check_change(
        lambda: write(entries, "oct-talks", title="Edited", categories=["conferences"],
                      published="2015-10-20T09:00:00Z"),
        site, app, hub, subscriber,
    )  # fmt: skip
    assert delay < PROMISE
    # One accepted ping per changed feed (check_change); before it, two refused.
    assert [p["hub.topic"] for p in hub.refused] == [hub.published()[0]["hub.topic"]] * 2


# --- gunicorn ------------------------------------------------------------------------------


def latencies(url: str, count: int = 40) -> list[float]:
    found = []
    for _ in range(count):
        started = time.perf_counter()
        assert get(url)[0] == 200
        found.append(time.perf_counter() - started)
    return found


def test_four_workers_ping_once_a_restart_nothing_and_requests_never_wait(
    tmp_path: Path, hub: HubServer, subscriber: Subscriber
) -> None:
    entries = make_site(tmp_path / "entries", [hub.url])
    port = free_port()
    env = {**medfeed_env(entries, port), "MEDFEED_STATE_DIR": str(tmp_path / "state")}
    argv = gunicorn_argv("wsgi:app", port, workers=4)
    base = f"http://{HOST}:{port}/"
    feeds = [f"{base}{s}feed.{f}" for s in ("", "categories/visits/", "categories/conferences/")
             for f in ("rss", "atom", "json")]  # fmt: skip
    site = Site(base, feeds)

    def warm() -> None:
        # Workers start watching (and may ping) with their first request.
        for _ in range(24):
            get(base + "feed.atom")

    with running("gunicorn", argv, port, tmp_path / "gunicorn.log", env) as server:
        warm()
        assert wait_for(lambda: (tmp_path / "state" / "websub.json").exists(), 10)
        subscribe_all(subscriber, hub, feeds)
        for title in ("Edited once", "Edited twice"):
            before = site.bodies()
            published, delivered = len(hub.published()), len(subscriber.received())
            started = time.monotonic()
            write(entries, "dec-visit", title=title, published="2015-12-12T09:00:00Z")
            count = delivered + 6
            assert wait_for(lambda n=count: len(subscriber.received()) >= n, 10), server.log_tail()
            took = subscriber.received()[-1].at - started
            time.sleep(SETTLE)
            after = site.bodies()
            changed = sorted(url for url in feeds if after[url] != before[url])
            assert len(changed) == 6
            assert sorted(p["hub.topic"] for p in hub.published()[published:])[:6] == changed
            assert len(hub.published()) - published >= 6
            got = subscriber.received()[delivered:]
            assert sorted(d.topic for d in got) == changed, "once, by one of four workers"
            assert all(title.encode() in d.body and d.signed for d in got)
            assert took < PROMISE
            print(f"gunicorn -w 4: change to last delivery {took:.2f} s")
        quiet = latencies(base + "feed.atom")

        # A hub that takes its time: pings wait on it, requests do not.
        hub.hang.clear()
        published, arrivals = len(hub.published()), hub.arrivals
        write(entries, "dec-visit", title="While the hub hangs", published="2015-12-12T09:00:00Z")
        assert wait_for(lambda: hub.arrivals > arrivals, 5), "no ping in flight"
        busy = latencies(base + "feed.atom")
        hub.hang.set()
        assert max(busy) < 1.0, busy
        assert statistics.median(busy) < 3 * statistics.median(quiet) + 0.02, (quiet, busy)
        assert wait_for(lambda: len(hub.published()) - published >= 6, 10)
        time.sleep(SETTLE)
        total = len(hub.published())

    # The same content after a restart: nothing to tell.
    status = tmp_path / "state" / "websub-status.json"
    restarted = status.stat().st_mtime_ns
    with running("gunicorn", argv, port, tmp_path / "gunicorn.log", env):
        warm()
        assert wait_for(lambda: status.stat().st_mtime_ns != restarted, 10), "no new leader"
        time.sleep(SETTLE)
        assert len(hub.published()) == total


# --- medfeed build --ping -----------------------------------------------------------------

NGINX_CONF = """\
{user}worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {site};
}}
"""


@pytest.fixture
def static_nginx(tmp_path: Path) -> Iterator[Callable[[Path, int], str]]:
    """nginx serving a build folder with deploy/nginx-static.conf on a port given."""
    from test_nginx import DEPLOY, NGINX, replace_once

    if NGINX is None:
        pytest.skip("nginx not found on PATH or in /usr/sbin: install it to test deploy/")
    procs: list[subprocess.Popen[bytes]] = []

    def start(out: Path, port: int) -> str:
        assert NGINX is not None
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        site = (
            (DEPLOY / "nginx-static.conf").read_text("utf-8").replace("/srv/medfeed/site", str(out))
        )
        site = replace_once(site, "    listen 80;\n", f"    listen {HOST}:{port};\n")
        site = replace_once(site, "    listen [::]:80;\n", "")
        (prefix / "site.conf").write_text(site, "utf-8")
        user = ""
        if os.geteuid() == 0:
            import grp
            import pwd

            user = f"user {pwd.getpwuid(0).pw_name} {grp.getgrgid(os.getegid()).gr_name};\n"
        conf = NGINX_CONF.format(user=user, tmp=prefix, site=prefix / "site.conf")
        (prefix / "nginx.conf").write_text(conf, "utf-8")
        proc = subprocess.Popen(
            [NGINX, "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        procs.append(proc)

        def answers() -> bool:
            try:
                with socket.create_connection((HOST, port), timeout=0.2):
                    return True
            except OSError:
                return False

        assert wait_for(answers, 5), (prefix / "error.log").read_text()
        return f"http://{HOST}:{port}/"

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=5)


def test_build_ping_tells_the_hub_of_the_feeds_it_changed(
    tmp_path: Path,
    hub: HubServer,
    subscriber: Subscriber,
    static_nginx: Callable[[Path, int], str],
) -> None:
    entries = make_site(tmp_path / "entries", [hub.url])
    out, port = tmp_path / "site", free_port()
    base = f"http://{HOST}:{port}/"
    env = {"MEDFEED_BASE_URL": base, "MEDFEED_STATE_DIR": str(tmp_path / "state")}

    def build(*options: str) -> Any:
        result = CliRunner().invoke(
            main, ["build", str(out), "--entries", str(entries), *options], env=env
        )
        assert result.exit_code == 0, result.output
        return result

    build()
    static_nginx(out, port)
    feeds = [f"{base}{s}feed.{f}" for s in ("", "categories/visits/", "categories/conferences/")
             for f in ("rss", "atom", "json")]  # fmt: skip
    subscribe_all(subscriber, hub, feeds)
    site = Site(base, feeds)
    before = site.bodies()
    write(entries, "oct-talks", title="Edited", categories=["conferences"],
          published="2015-10-20T09:00:00Z")  # fmt: skip
    result = build("--ping")
    # The hub fetched each feed from nginx while the build waited for its answer.
    after = site.bodies()
    changed = sorted(url for url in feeds if after[url] != before[url])
    assert changed == sorted(
        f"{base}categories/conferences/feed.{f}" for f in ("rss", "atom", "json")
    )
    pinged = {p["hub.topic"] for p in hub.published()}
    assert pinged == {
        *changed,
        *(f"{base}archive/2015/10/feed.{f}" for f in ("rss", "atom", "json")),
    }
    assert len(hub.published()) == len(pinged)
    assert "6 ping(s) sent, 0 failed" in result.stderr
    got = subscriber.received()
    assert sorted(d.topic for d in got) == changed
    for delivery in got:
        assert delivery.body == after[delivery.topic][0]
        assert delivery.content_type == after[delivery.topic][1]
        assert delivery.signed
    # Nothing changed, nothing to tell.
    assert "0 ping(s) sent" in build("--ping").stderr
    assert len(hub.published()) == len(pinged)


def test_a_watching_build_pings_for_each_round_that_changed_feeds(
    tmp_path: Path, hub: HubServer, static_nginx: Callable[[Path, int], str]
) -> None:
    entries = make_site(tmp_path / "entries", [hub.url])
    out, port = tmp_path / "site", free_port()
    base = f"http://{HOST}:{port}/"
    env = {**os.environ, "MEDFEED_BASE_URL": base, "MEDFEED_STATE_DIR": str(tmp_path / "st")}
    command = [sys.executable, "-m", "medfeed", "build", str(out), "--entries", str(entries)]
    process = subprocess.Popen(
        [*command, "--watch", "--ping"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        assert wait_for(lambda: (out / "feed.atom").exists(), 20)
        static_nginx(out, port)
        assert wait_for(lambda: len(hub.published()) > 0, 20)  # the first build's feeds

        def settled() -> bool:  # no ping for a second: the first build's are all in
            before = len(hub.published())
            time.sleep(1)
            return before == len(hub.published())

        assert wait_for(settled, 20)
        first = len(hub.published())
        write(entries, "oct-talks", title="Edited", categories=["conferences"],
              published="2015-10-20T09:00:00Z")  # fmt: skip
        conference = f"{base}categories/conferences/feed.atom"
        assert wait_for(lambda: conference in {p["hub.topic"] for p in hub.published()[first:]}, 20)
        # Feeds the edit left as they were are not pinged again.
        later = {p["hub.topic"] for p in hub.published()[first:]}
        assert f"{base}categories/visits/feed.atom" not in later
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors
    assert "Traceback" not in errors
