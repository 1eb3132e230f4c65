"""Rules every HTTP answer keeps, whatever the path, method or headers: it says
``Vary: Accept-Encoding``, no URL in it comes from the client's Host header, and no
request gets a server error or a traceback.

Most cases run against a real server on 127.0.0.1, so that the Host header is really sent.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import BASE_URL, SMALL_SITE_DOCUMENTS, WriteEntry

MakeApp = Callable[..., Flask]
Serve = Callable[[Flask], str]

HOSTILE_HOST = "attacker.example"
# Everything a client could use to make the app name another host, scheme or prefix.
SPOOFING_HEADERS = {
    "Host": HOSTILE_HOST,
    "X-Forwarded-Host": "forwarded.example",
    "X-Forwarded-Proto": "gopher",
    "X-Forwarded-Prefix": "/elsewhere",
    "X-Forwarded-Server": "server.example",
    "Forwarded": "host=forwarded.example;proto=http",
}
PREFIXED_BASE_URL = "https://news.example.org/sub/"

METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO"]
PATHS = [
    *SMALL_SITE_DOCUMENTS,
    # 404s: from a view (unknown category or entry) and from routing.
    "/categories/nope/",
    "/categories/nope/feed.rss",
    "/entries/nope/",
    "/feed.json",
    "/nope",
    "/%00",
    "/%ff",
    "/" + "a" * 4000,
    # Redirects: routing's slash and merged-slash redirects, and /categories/.
    "/categories/visits",
    "/entries/a-visit",
    "/categories//visits/",
    "/categories/visits//feed.atom",
    "/categories/",
    "/categories/?x=1",
    "/healthz",
]


@dataclass(frozen=True)
class Reply:
    """One answer as it crossed the wire."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    def varies_by_encoding(self) -> bool:
        vary = self.header("Vary") or ""
        return "accept-encoding" in {token.strip().lower() for token in vary.split(",")}


def request(base: str, method: str, target: str, headers: dict[str, str] | None = None) -> Reply:
    """Send one request with exactly these headers (no Host unless given)."""
    address = urlsplit(base)
    assert address.hostname is not None
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return Reply(response.status, response.getheaders(), response.read())
    finally:
        connection.close()


def exchange(base: str, raw: bytes) -> Reply:
    """Send raw request bytes, read until the server closes, and parse the answer."""
    address = urlsplit(base)
    assert address.hostname is not None and address.port is not None
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines)]
    return Reply(int(status_line.split()[1]), headers, body)


@pytest.fixture
def site_app(write_entry: WriteEntry, make_app: MakeApp) -> MakeApp:
    """The small site of conftest's SMALL_SITE_DOCUMENTS; call with settings to build it."""
    write_entry("a-visit")
    write_entry("a-conference", categories=["conferences"], title="A conference")
    return make_app


@pytest.fixture
def base(site_app: MakeApp, serve: Serve) -> str:
    return serve(site_app())


# Vary: Accept-Encoding on every answer


def every_request() -> Iterator[tuple[str, str, dict[str, str]]]:
    for path in PATHS:
        for method in METHODS:
            yield method, path, {**SPOOFING_HEADERS, "Accept-Encoding": "gzip, br"}
    for path in SMALL_SITE_DOCUMENTS:
        for method in ("GET", "HEAD"):
            yield method, path, {"Host": HOSTILE_HOST, "If-None-Match": "*"}
    yield "GET", "/feed.rss", {"Host": HOSTILE_HOST, "Accept-Encoding": "identity;q=0, *;q=0"}


def test_every_answer_varies_by_encoding(base: str) -> None:
    statuses: set[int] = set()
    wrong = []
    for method, path, headers in every_request():
        reply = request(base, method, path, headers)
        statuses.add(reply.status)
        if reply.status >= 500 or not reply.varies_by_encoding():
            wrong.append(f"{method} {path}: {reply.status} Vary={reply.header('Vary')!r}")
    assert not wrong, "\n".join(wrong)
    # The list covers every kind of answer the app gives.
    assert statuses == {200, 302, 304, 308, 404, 405}


def test_an_unexpected_error_is_a_page_that_varies(site_app: MakeApp, serve: Serve) -> None:
    app = site_app()

    def broken() -> str:
        raise RuntimeError("a bug")

    app.add_url_rule("/broken", view_func=broken)
    reply = request(serve(app), "GET", "/broken", {"Host": HOSTILE_HOST})
    assert reply.status == 500
    assert reply.varies_by_encoding()
    assert reply.header("Content-Type") == "text/html; charset=utf-8"
    assert b"Traceback" not in reply.body
    assert b"a bug" not in reply.body


def test_flasks_own_vary_is_kept_and_extended(site_app: MakeApp) -> None:
    app = site_app()

    @app.get("/by-language")
    def by_language() -> tuple[str, dict[str, str]]:
        return "hello", {"Vary": "Accept-Language"}

    response = app.test_client().get("/by-language")
    assert response.headers.getlist("Vary") == ["Accept-Language, Accept-Encoding"]


# Redirects: Location from the public base URL, never from the request

REDIRECTS = [
    # path, status, Location after the base URL, status of the Location
    ("/categories/visits", 308, "categories/visits/", 200),
    ("/categories/conferences", 308, "categories/conferences/", 200),
    ("/entries/a-visit", 308, "entries/a-visit/", 200),
    ("/categories//visits/", 308, "categories/visits/", 200),
    ("/categories/visits//feed.atom", 308, "categories/visits/feed.atom", 200),
    ("/entries//a-visit/", 308, "entries/a-visit/", 200),
    ("/categories/", 302, "#subscribe", 200),
    ("/categories/?utm_source=x", 302, "?utm_source=x#subscribe", 200),
    ("/categories/visits?page=2&q=a%20b", 308, "categories/visits/?page=2&q=a%20b", 200),
    (
        "/categories/visits?x=%0d%0aSet-Cookie:%20a=b",
        308,
        "categories/visits/?x=%0d%0aSet-Cookie:%20a=b",
        200,
    ),
    ("/entries/%C3%A9t%C3%A9", 308, "entries/%C3%A9t%C3%A9/", 404),
    ("/categories/nope", 308, "categories/nope/", 404),
]


@pytest.mark.parametrize("base_url", [BASE_URL, PREFIXED_BASE_URL])
def test_redirects_point_at_the_public_site(site_app: MakeApp, serve: Serve, base_url: str) -> None:
    base = serve(site_app(BASE_URL=base_url))
    prefix = urlsplit(base_url).path
    wrong = []
    for path, status, target, landing_status in REDIRECTS:
        # Routing redirects whatever the method it routes; /categories/ is a GET view.
        for method in ("GET", "HEAD", *(("OPTIONS",) if status == 308 else ())):
            reply = request(base, method, path, SPOOFING_HEADERS)
            location = reply.header("Location") or ""
            if (reply.status, location) != (status, base_url + target):
                wrong.append(f"{method} {path}: {reply.status} Location={location!r}")
            assert reply.varies_by_encoding()
            assert reply.header("Set-Cookie") is None
        # The redirect leads to what the site serves there.
        landing = urlsplit(base_url + target)
        query = f"?{landing.query}" if landing.query else ""
        target_path = "/" + landing.path.removeprefix(prefix) + query
        followed = request(base, "GET", target_path, {"Host": HOSTILE_HOST})
        if followed.status != landing_status:
            wrong.append(f"{path} -> {target_path}: {followed.status}")
    assert not wrong, "\n".join(wrong)


def test_no_host_header_or_a_broken_one_changes_nothing(base: str) -> None:
    for host in [None, "", HOSTILE_HOST, "attacker.example:8443", "a b", "[::1", "x/y?z#"]:
        headers = {} if host is None else {"Host": host}
        reply = request(base, "GET", "/categories/visits", headers)
        assert reply.status == 308, host
        assert reply.header("Location") == f"{BASE_URL}categories/visits/", host


def test_a_redirect_over_http_1_0_without_host(base: str) -> None:
    reply = exchange(base, b"GET /entries/a-visit HTTP/1.0\r\n\r\n")
    assert reply.status == 308
    assert reply.header("Location") == f"{BASE_URL}entries/a-visit/"


@pytest.mark.parametrize(
    ("query", "location_query"),
    [
        ("a=1\r\nSet-Cookie: evil=1", "a=1%0D%0ASet-Cookie:%20evil=1"),
        ("a=<script>\"'", "a=%3Cscript%3E%22'"),
        ("a=1#frag", "a=1%23frag"),
        ("a=\xe9\x00\x7f", "a=%E9%00%7F"),
        ("a=%zz%0A", "a=%zz%0A"),
    ],
)
def test_a_hostile_query_cannot_break_out_of_location(
    site_app: MakeApp, query: str, location_query: str
) -> None:
    client = site_app().test_client()
    for path, target in [("/categories/visits", "categories/visits/"), ("/categories/", "")]:
        response = client.get(
            path, headers={"Host": HOSTILE_HOST}, environ_overrides={"QUERY_STRING": query}
        )
        assert response.status_code in (302, 308)
        location = response.headers["Location"]
        assert location.startswith(f"{BASE_URL}{target}?{location_query}")
        assert all(ord(c) > 32 and ord(c) < 127 for c in location), location
        assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    ("path_info", "target"),
    [
        ("//feed.rss", "feed.rss"),
        ("///categories/visits/", "categories/visits/"),
        ("//categories/visits", "categories/visits/"),
        ("//entries/a-visit/", "entries/a-visit/"),
        ("//", ""),
    ],
)
def test_doubled_leading_slashes_redirect_to_the_one_url(
    site_app: MakeApp, path_info: str, target: str
) -> None:
    # Test client and the development server turn "//x" into "/x" before the app sees
    # it; gunicorn passes it on as it came.
    client = site_app().test_client()
    response = client.get(
        "/", headers={"Host": HOSTILE_HOST}, environ_overrides={"PATH_INFO": path_info}
    )
    assert response.status_code == 308
    assert response.headers["Location"] == BASE_URL + target
    assert response.headers["Vary"] == "Accept-Encoding"


def test_doubled_leading_slashes_on_nothing_are_not_found(site_app: MakeApp) -> None:
    client = site_app().test_client()
    response = client.get("/", environ_overrides={"PATH_INFO": "//nope"})
    assert response.status_code == 404


# No request gets a server error


def raw(line: bytes, *headers: bytes) -> bytes:
    return b"\r\n".join([line, *headers, b"Connection: close", b"", b""])


HOST = b"Host: " + HOSTILE_HOST.encode()
HOSTILE_REQUESTS = {
    "odd method": raw(b"FOO / HTTP/1.1", HOST),
    "lower-case method": raw(b"get /feed.rss HTTP/1.1", HOST),
    "long method": raw(b"X" * 2000 + b" / HTTP/1.1", HOST),
    "options *": raw(b"OPTIONS * HTTP/1.1", HOST),
    "non-UTF-8 path": raw(b"GET /entries/\xff\xfe/ HTTP/1.1", HOST),
    "non-UTF-8 redirect": raw(b"GET /categories/\xc3\x28 HTTP/1.1", HOST),
    "non-ASCII document path": raw(b"GET /categories/visit\xc3\xa9/feed.rss HTTP/1.1", HOST),
    "NUL in path": raw(b"GET /categories/\x00/ HTTP/1.1", HOST),
    "escaped NUL in redirect": raw(b"GET /categories/%00 HTTP/1.1", HOST),
    "long path": raw(b"GET /" + b"a/" * 4000 + b" HTTP/1.1", HOST),
    "long redirect": raw(b"GET /categories/" + b"x" * 8000 + b" HTTP/1.1", HOST),
    "absolute target": raw(b"GET http://attacker.example/categories/visits HTTP/1.1", HOST),
    "HTTP/1.0 document": raw(b"GET /feed.atom HTTP/1.0"),
    "Host with junk": raw(b"GET /categories/visits HTTP/1.1", b"Host: \xff\x00<>"),
    "two Hosts": raw(b"GET /categories/visits HTTP/1.1", HOST, b"Host: b.example"),
    "huge Accept-Encoding": raw(
        b"GET /feed.rss HTTP/1.1", HOST, b"Accept-Encoding: " + b'gzip;q="' * 2000
    ),
    "binary Accept-Encoding": raw(b"GET /feed.rss HTTP/1.1", HOST, b"Accept-Encoding: \xff\x01;q"),
    "If-None-Match junk": raw(b"GET / HTTP/1.1", HOST, b'If-None-Match: W/"\xff,,,"*'),
    "If-Modified-Since junk": raw(
        b"GET /feed.atom HTTP/1.1", HOST, b"If-Modified-Since: Sun, 99 Nov 99999 99:99:99 GMT"
    ),
    "If-Modified-Since binary": raw(
        b"GET /entries/a-visit/ HTTP/1.1", HOST, b"If-Modified-Since: \x00\xff\xfe"
    ),
    "conditional 404": raw(
        b"GET /entries/nope/ HTTP/1.1", HOST, b"If-None-Match: *", b"If-Modified-Since: x"
    ),
    "conditional POST": raw(b"POST /feed.rss HTTP/1.1", HOST, b"If-None-Match: *"),
    "body on GET": raw(
        b"GET /feed.rss HTTP/1.1", HOST, b"Content-Length: 5", b"Transfer-Encoding: chunked"
    ),
}


def test_hostile_requests_never_get_a_server_error(base: str) -> None:
    wrong = []
    for name, raw_request in HOSTILE_REQUESTS.items():
        reply = exchange(base, raw_request)
        location = reply.header("Location") or ""
        if reply.status >= 500 or b"Traceback" in reply.body or HOSTILE_HOST in location:
            wrong.append(f"{name}: {reply.status} Location={location!r}")
    assert not wrong, "\n".join(wrong)


HOSTILE_VALUES = [
    "",
    " ",
    "*",
    ",",
    ";",
    '"',
    "\x00",
    "\xff\xfe",
    "W/",
    "W/*",
    "q=0",
    "*;q=0",
    "identity;q=0, *;q=0",
    "Sun, 06 Nov 1994 08:49:37 GMT" * 50,
    "Sunday, 31-Feb-99 99:99:99 GMT",
    "x" * 60_000,
    "é€😀",
]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize(
    "header", ["Accept-Encoding", "If-None-Match", "If-Modified-Since", "Host", "Range"]
)
def test_hostile_header_values_through_the_app(site_app: MakeApp, header: str, value: str) -> None:
    client = site_app().test_client()
    for path in ["/feed.rss", "/entries/a-visit/", "/entries/nope/", "/categories/visits"]:
        for method in ("GET", "HEAD"):
            response = client.open(
                path, method=method, environ_overrides={header_key(header): value}
            )
            assert response.status_code in (200, 304, 308, 404), (path, method)
            assert response.headers["Vary"] == "Accept-Encoding"
            assert b"Traceback" not in response.data
            location = response.headers.get("Location")
            assert location is None or location.startswith(BASE_URL)


def header_key(name: str) -> str:
    return "HTTP_" + name.upper().replace("-", "_")


latin1_paths = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255)).map(
    lambda text: "/" + text
)


@pytest.fixture
def site_client(site_app: MakeApp) -> FlaskClient:
    return site_app().test_client()


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.one_of(
        latin1_paths,
        st.sampled_from(PATHS).flatmap(lambda p: latin1_paths.map(lambda tail: p + tail)),
    ),
    method=st.sampled_from(["GET", "HEAD", "POST", "OPTIONS"]),
)
def test_any_path_gets_an_answer_that_varies(
    site_client: FlaskClient, path: str, method: str
) -> None:
    # PATH_INFO as a WSGI server gives it: the request's bytes read as latin-1.
    response = site_client.open("/", method=method, environ_overrides={"PATH_INFO": path})
    assert response.status_code < 500
    assert response.headers["Vary"] == "Accept-Encoding"
    location = response.headers.get("Location")
    assert location is None or location.startswith(BASE_URL)
