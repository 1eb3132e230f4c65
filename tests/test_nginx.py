"""The shipped nginx configs, run by a real nginx: deploy/nginx-static.conf serving a
``medfeed build`` folder, and deploy/nginx-proxy.conf caching the app.

Each test adapts the shipped file by text substitution (paths, ports), includes it in a
minimal nginx.conf in tmp_path and runs nginx in the foreground on 127.0.0.1.
"""

from __future__ import annotations

import grp
import gzip
import http.client
import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from conftest import BASE_URL, SMALL_SITE_DOCUMENTS, WriteEntry
from medfeed.cli import main
from medfeed.delivery import PAGE_HEADERS
from medfeed.documents import KINDS

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
)
pytestmark = pytest.mark.skipif(
    NGINX is None, reason="nginx not found on PATH or in /usr/sbin: install it to test deploy/"
)

START_TIMEOUT = 5.0
MAIN_CONF = """\
{user}worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{
    worker_connections 64;
}}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {site};
}}
"""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def fetch(base: str, path: str, headers: dict[str, str] | None = None) -> Reply:
    """GET ``path`` from ``http://127.0.0.1:<port>``; header names in lower case."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        # http.client sends "Accept-Encoding: identity" unless told otherwise.
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        conn.close()


def replace_once(text: str, old: str, new: str) -> str:
    """Substitute in the shipped config, failing loudly when it no longer says ``old``."""
    assert text.count(old) == 1, f"the shipped config should contain {old!r} once"
    return text.replace(old, new)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


StartNginx = Callable[[str], str]


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[StartNginx]:
    """Start nginx with a server config that has ``listen 80;``; returns its base URL."""
    procs: list[subprocess.Popen[bytes]] = []
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    # As root, nginx's workers would drop to "nobody", who cannot read pytest's tmp_path.
    user = ""
    if os.geteuid() == 0:
        user = f"user {pwd.getpwuid(0).pw_name} {grp.getgrgid(os.getegid()).gr_name};\n"

    def start(site_conf: str) -> str:
        assert NGINX is not None
        for _ in range(3):  # the free port may be taken before nginx binds it
            port = free_port()
            site = replace_once(site_conf, "    listen 80;\n", f"    listen 127.0.0.1:{port};\n")
            site = replace_once(site, "    listen [::]:80;\n", "")
            (prefix / "site.conf").write_text(site, encoding="utf-8")
            conf = prefix / "nginx.conf"
            conf.write_text(
                MAIN_CONF.format(user=user, tmp=prefix, site=prefix / "site.conf"), "utf-8"
            )
            stderr = prefix / "stderr.log"
            with stderr.open("wb") as err:
                proc = subprocess.Popen(
                    [NGINX, "-p", f"{prefix}/", "-c", str(conf)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                )
            procs.append(proc)
            deadline = time.monotonic() + START_TIMEOUT
            while proc.poll() is None and time.monotonic() < deadline:
                if answers(port):
                    return f"http://127.0.0.1:{port}"
                time.sleep(0.02)
            logs = (stderr, prefix / "error.log")
            log = "".join(f.read_text() for f in logs if f.exists())
            if proc.poll() is None or "Address already in use" not in log:
                pytest.fail(f"nginx did not start within {START_TIMEOUT}s:\n{log}")
        pytest.fail("nginx found no free port")

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- deploy/nginx-static.conf ----------------------------------------------------------------


@pytest.fixture
def static_site(
    write_entry: WriteEntry, entries_dir: Path, tmp_path: Path, nginx: StartNginx
) -> str:
    """A built site served by nginx-static.conf; returns nginx's base URL."""
    write_entry("a-visit", title="A visit to Brussels")
    write_entry("a-conference", categories=["conferences"], title="A conference in Rome")
    write_entry("renamed", title="Renamed by medfeed mv", aliases=["first-name"])
    out = tmp_path / "site"
    result = CliRunner().invoke(
        main, ["build", str(out), "--entries", str(entries_dir)], env={"MEDFEED_BASE_URL": BASE_URL}
    )
    assert result.exit_code == 0, result.output
    conf = (DEPLOY / "nginx-static.conf").read_text(encoding="utf-8")
    # Both places that name the build folder: the root and the redirects map.
    return nginx(conf.replace("/srv/medfeed/site", str(out)))


@pytest.mark.parametrize("path", SMALL_SITE_DOCUMENTS)
def test_static_nginx_serves_the_apps_documents(
    static_site: str, make_app: Callable[..., Flask], path: str
) -> None:
    app_reply = make_app().test_client().get(path)
    assert app_reply.status_code == 200
    plain = fetch(static_site, path)
    assert plain.status == 200
    assert plain.body == app_reply.data
    assert plain.headers["content-type"] == app_reply.headers["Content-Type"]
    assert "content-encoding" not in plain.headers
    assert plain.headers["cache-control"] == app_reply.headers["Cache-Control"]
    assert plain.headers["x-content-type-options"] == "nosniff"
    assert plain.headers["vary"] == "Accept-Encoding"
    assert "etag" in plain.headers
    for name, value in PAGE_HEADERS:
        # The pages' policies, exactly, and only on pages, as the app does.
        expected = value if path.endswith("/") else None
        assert app_reply.headers.get(name) == expected
        assert plain.headers.get(name.lower()) == expected

    packed = fetch(static_site, path, {"Accept-Encoding": "gzip"})
    assert packed.status == 200
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert packed.headers["content-type"] == plain.headers["content-type"]
    assert packed.headers["cache-control"] == plain.headers["cache-control"]
    assert packed.headers["etag"] != plain.headers["etag"], "one validator per encoding"
    assert gzip.decompress(packed.body) == app_reply.data


def test_static_nginx_revalidates_and_hides_the_build_marker(static_site: str) -> None:
    first = fetch(static_site, "/feed.atom")
    again = fetch(static_site, "/feed.atom", {"If-None-Match": first.headers["etag"]})
    assert again.status == 304
    assert again.headers["cache-control"] == first.headers["cache-control"]

    assert fetch(static_site, "/.medfeed-build").status == 404
    assert fetch(static_site, "/entries/").status == 404
    slashless = fetch(static_site, "/entries/a-visit")
    assert slashless.status == 301
    assert slashless.headers["location"].endswith("/entries/a-visit/")
    missing = fetch(static_site, "/entries/no-such-entry/")
    assert missing.status == 404
    assert missing.headers["x-content-type-options"] == "nosniff"
    assert "cache-control" not in missing.headers, "errors are not cached like feeds"
    moved = fetch(static_site, "/categories/")
    assert moved.status == 302
    assert moved.headers["location"].endswith("/#subscribe")


# --- deploy/nginx-proxy.conf -----------------------------------------------------------------


@pytest.fixture
def proxied(
    tmp_path: Path,
    entries_dir: Path,
    write_entry: WriteEntry,
    make_app: Callable[..., Flask],
    serve: Callable[[Flask], str],
    nginx: StartNginx,
) -> Iterator[tuple[str, str]]:
    """A watching app with max_age = 1 behind nginx-proxy.conf: (nginx URL, app URL)."""
    site_toml = entries_dir / "site.toml"
    site_toml.write_text("max_age = 1\n" + site_toml.read_text("utf-8"), "utf-8")
    write_entry("a-visit", title="First title")
    write_entry("a-conference", categories=["conferences"], title="A conference in Rome")
    app = make_app(WATCH=True)
    upstream = serve(app)
    port = upstream.rsplit(":", 1)[1]
    conf = (DEPLOY / "nginx-proxy.conf").read_text(encoding="utf-8")
    conf = replace_once(conf, "server 127.0.0.1:8000;", f"server 127.0.0.1:{port};")
    conf = replace_once(conf, "/var/cache/nginx/medfeed", str(tmp_path / "cache"))
    try:
        yield nginx(conf), upstream
    finally:
        app.extensions["medfeed"].stop()


def until_expired(base: str, path: str, timeout: float = 4.0) -> Reply:
    """Ask until nginx's copy has expired (max-age 1 on nginx's one-second clock)."""
    deadline = time.monotonic() + timeout
    while True:
        reply = fetch(base, path)
        if reply.headers.get("x-cache-status") != "HIT" or time.monotonic() > deadline:
            return reply
        time.sleep(0.1)


def test_proxy_caches_and_revalidates_with_the_app(
    proxied: tuple[str, str], write_entry: WriteEntry
) -> None:
    base, upstream = proxied
    feed, other = "/feed.atom", "/categories/conferences/feed.atom"

    first = fetch(base, feed)
    assert first.status == 200
    assert first.headers["x-cache-status"] == "MISS"
    assert first.headers["cache-control"] == "public, max-age=1"
    assert first.body == fetch(upstream, feed).body
    assert b"First title" in first.body
    second = fetch(base, feed)
    assert second.headers["x-cache-status"] == "HIT"
    assert second.body == first.body
    unchanged = fetch(base, other)
    assert unchanged.headers["x-cache-status"] == "MISS"

    # One copy per Accept-Encoding: the app's gzip bytes, cached on their own.
    packed = fetch(base, feed, {"Accept-Encoding": "gzip"})
    assert packed.headers["x-cache-status"] == "MISS"
    assert packed.headers["content-encoding"] == "gzip"
    assert gzip.decompress(packed.body) == first.body
    assert fetch(base, feed, {"Accept-Encoding": "gzip"}).headers["x-cache-status"] == "HIT"

    write_entry("a-visit", title="Second title")
    deadline = time.monotonic() + 3
    while b"Second title" not in fetch(upstream, feed).body:
        assert time.monotonic() < deadline, "the app did not notice the edit"
        time.sleep(0.05)

    changed = until_expired(base, feed)
    assert changed.headers["x-cache-status"] == "EXPIRED", "the app sent the new feed"
    assert b"Second title" in changed.body
    assert fetch(base, feed).headers["x-cache-status"] == "HIT"

    kept = until_expired(base, other)
    assert kept.headers["x-cache-status"] == "REVALIDATED", "the app answered 304"
    assert kept.body == unchanged.body
    assert fetch(base, other).headers["x-cache-status"] == "HIT"


def test_proxy_never_caches_healthz(proxied: tuple[str, str]) -> None:
    base, _ = proxied
    for _ in range(2):
        reply = fetch(base, "/healthz")
        assert reply.status == 200
        assert "x-cache-status" not in reply.headers
        assert reply.headers["cache-control"] == "no-store"


# --- both configurations -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["nginx-static.conf", "nginx-proxy.conf"])
def test_nginx_accepts_the_shipped_file_without_a_warning(tmp_path: Path, name: str) -> None:
    assert NGINX is not None
    site = tmp_path / name
    text = (DEPLOY / name).read_text(encoding="utf-8")
    # The one path an operator's machine has and this one may not: the proxy's cache.
    text = text.replace("/var/cache/nginx/medfeed", str(tmp_path / "cache"))
    site.write_text(text, encoding="utf-8")
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"events {{}}\nhttp {{\n    include {site};\n}}\n", encoding="utf-8")
    done = subprocess.run(
        [NGINX, "-t", "-p", f"{tmp_path}/", "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "[warn]" not in done.stderr and "[emerg]" not in done.stderr, done.stderr


def test_static_nginx_redirects_never_name_the_clients_host(static_site: str) -> None:
    host, port = static_site.removeprefix("http://").split(":")
    for path in ("/entries/a-visit", "/categories/visits", "/categories/"):
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("GET", path, headers={"Host": "attacker.example"})
        reply = connection.getresponse()
        reply.read()
        connection.close()
        assert reply.status in (301, 302), path
        location = reply.getheader("Location") or ""
        assert location.startswith("/") and "attacker" not in location, (path, location)


def test_static_nginx_serves_files_kept_beside_the_build(
    static_site: str, tmp_path: Path, entries_dir: Path
) -> None:
    well_known = tmp_path / "site" / ".well-known"
    well_known.mkdir()
    (well_known / "security.txt").write_text("Contact: mailto:security@example.org\n")
    result = CliRunner().invoke(
        main,
        ["build", str(tmp_path / "site"), "--entries", str(entries_dir)],
        env={"MEDFEED_BASE_URL": BASE_URL},
    )
    assert result.exit_code == 0, result.output
    reply = fetch(static_site, "/.well-known/security.txt")
    assert reply.status == 200
    assert reply.body == b"Contact: mailto:security@example.org\n"


def test_static_nginx_redirects_an_earlier_slug(static_site: str) -> None:
    for path in ("/entries/first-name/", "/entries/first-name", "/entries/first-name/index.html"):
        reply = fetch(static_site, path)
        assert reply.status == 301, path
        assert reply.headers["location"] == "/entries/renamed/", path
    assert fetch(static_site, "/entries/renamed/").status == 200


def test_the_static_configuration_types_every_kind_of_document() -> None:
    conf = (DEPLOY / "nginx-static.conf").read_text(encoding="utf-8")
    block = conf[conf.index("types {") : conf.index("}", conf.index("types {"))]
    types = {ext: media for media, ext in re.findall(r"^\s+([\w/+.-]+)\s+(\w+);$", block, re.M)}
    [listed] = re.findall(r"^\s*charset_types\s+([^;]+);", conf, re.M)
    charset = set(listed.split())
    for kind in KINDS:
        media = kind.media_type.split(";")[0]
        extension = kind.extension or "html"
        if kind.name.startswith(("_", ".")):
            continue  # files for other static hosts and for nginx itself, never served
        assert types.get(extension) == media, (kind.name, extension)
        if "charset" in kind.media_type and media != "text/html":
            assert media in charset, media


def test_static_nginx_serves_the_archive_chain(
    write_entry: WriteEntry, entries_dir: Path, tmp_path: Path, nginx: StartNginx
) -> None:
    site = entries_dir / "site.toml"
    site.write_text("item_limit = 2\n" + site.read_text("utf-8"), "utf-8")
    for n in range(7):
        write_entry(f"entry-{n}", title=f"Entry {n}", published=f"2015-{n + 1:02d}-05T00:00:00Z")
    out = tmp_path / "site"
    result = CliRunner().invoke(
        main, ["build", str(out), "--entries", str(entries_dir)], env={"MEDFEED_BASE_URL": BASE_URL}
    )
    assert result.exit_code == 0, result.output
    conf = (DEPLOY / "nginx-static.conf").read_text(encoding="utf-8")
    base = nginx(conf.replace("/srv/medfeed/site", str(out)))
    ids: list[str] = []
    url = f"{BASE_URL}feed.atom"
    while url:
        reply = fetch(base, "/" + url.removeprefix(BASE_URL))
        assert reply.status == 200, url
        assert reply.headers["content-type"] == "application/atom+xml; charset=utf-8"
        ids += re.findall(r"<id>(tag:[^<]*entry-\d)</id>", reply.body.decode())
        found = re.search(r'href="([^"]+)" rel="prev-archive"', reply.body.decode())
        url = found[1] if found else ""
    assert ids == [f"tag:example.org,2015-{n + 1:02d}-05:entry-{n}" for n in reversed(range(7))]
