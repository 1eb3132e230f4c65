"""Encodings, validators and conditional answers, through the app and the pure functions."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from datetime import UTC, datetime

import brotli
import pytest
from flask import Flask
from flask.testing import FlaskClient

from conftest import WriteEntry
from medfeed.delivery import answer, choose_encoding, make_document

FEEDS = ["/feed.atom", "/feed.rss", "/categories/visits/feed.atom", "/"]


@pytest.fixture
def loaded(write_entry: WriteEntry, make_app: Callable[..., Flask]) -> FlaskClient:
    write_entry("a-visit")
    write_entry("a-conference", categories=["conferences"], title="A conference")
    return make_app().test_client()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", "identity"),
        ("gzip", "gzip"),
        ("gzip, deflate, br", "br"),
        ("br;q=0, gzip", "gzip"),
        ("gzip;q=0", "identity"),
        ("*", "br"),
        ("identity", "identity"),
        ("GZIP", "gzip"),
        ("br;q=0.5, gzip;q=1", "br"),
        ("gzip;q=bogus", "identity"),
    ],
)
def test_choose_encoding(header: str, expected: str) -> None:
    assert choose_encoding(header, ("identity", "gzip", "br")) == expected


@pytest.mark.parametrize("path", FEEDS)
def test_each_encoding_decodes_to_the_same_bytes(loaded: FlaskClient, path: str) -> None:
    plain = loaded.get(path)
    zipped = loaded.get(path, headers={"Accept-Encoding": "gzip"})
    brotlied = loaded.get(path, headers={"Accept-Encoding": "br"})
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert brotlied.headers["Content-Encoding"] == "br"
    assert gzip.decompress(zipped.data) == plain.data
    assert brotli.decompress(brotlied.data) == plain.data
    for response in (plain, zipped, brotlied):
        assert response.headers["Vary"] == "Accept-Encoding"
        assert int(response.headers["Content-Length"]) == len(response.data)
    etags = {r.headers["ETag"] for r in (plain, zipped, brotlied)}
    assert len(etags) == 3, "each encoding has its own validator"


@pytest.mark.parametrize("encoding", ["identity", "gzip", "br"])
def test_304_for_each_encoding(loaded: FlaskClient, encoding: str) -> None:
    headers = {"Accept-Encoding": encoding}
    first = loaded.get("/feed.atom", headers=headers)
    again = loaded.get("/feed.atom", headers={**headers, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Vary"] == "Accept-Encoding"
    assert "max-age=" in again.headers["Cache-Control"]


def test_another_encodings_etag_is_not_a_match(loaded: FlaskClient) -> None:
    gzip_etag = loaded.get("/feed.atom", headers={"Accept-Encoding": "gzip"}).headers["ETag"]
    plain = loaded.get("/feed.atom", headers={"If-None-Match": gzip_etag})
    assert plain.status_code == 200
    assert plain.data


def test_head_has_the_headers_of_get_and_no_body(loaded: FlaskClient) -> None:
    get = loaded.get("/feed.rss", headers={"Accept-Encoding": "gzip"})
    head = loaded.head("/feed.rss", headers={"Accept-Encoding": "gzip"})
    assert head.status_code == 200
    assert head.data == b""
    for name in ("ETag", "Content-Length", "Content-Type", "Content-Encoding", "Last-Modified"):
        assert head.headers[name] == get.headers[name]


def test_weak_and_listed_etags_match(loaded: FlaskClient) -> None:
    etag = loaded.get("/feed.atom").headers["ETag"]
    listed = loaded.get("/feed.atom", headers={"If-None-Match": f'"other", W/{etag}'})
    star = loaded.get("/feed.atom", headers={"If-None-Match": "*"})
    assert listed.status_code == 304
    assert star.status_code == 304


def test_etag_wins_over_a_date(loaded: FlaskClient) -> None:
    first = loaded.get("/feed.atom")
    stale_etag_fresh_date = loaded.get(
        "/feed.atom",
        headers={"If-None-Match": '"stale"', "If-Modified-Since": first.headers["Last-Modified"]},
    )
    assert stale_etag_fresh_date.status_code == 200


@pytest.mark.parametrize("since", ["garbage", "", "Tue, 99 Foo 2016 00:00:00 GMT"])
def test_a_bad_date_is_ignored(loaded: FlaskClient, since: str) -> None:
    assert loaded.get("/feed.atom", headers={"If-Modified-Since": since}).status_code == 200


def test_a_document_is_compressed_once() -> None:
    doc = make_document(b"x" * 1000, "text/plain", datetime(2016, 9, 16, tzinfo=UTC), 60)
    doc.prepare()
    environ = {"REQUEST_METHOD": "GET", "HTTP_ACCEPT_ENCODING": "gzip"}
    first, second = answer(doc, environ), answer(doc, environ)
    assert first.body is second.body
    assert ("Last-Modified", "Fri, 16 Sep 2016 00:00:00 GMT") in first.headers


def test_last_modified_is_in_gmt_whatever_the_offset() -> None:
    moment = datetime.fromisoformat("2016-09-16T02:00:00+02:00")
    doc = make_document(b"x", "text/plain", moment, 60)
    reply = answer(doc, {"REQUEST_METHOD": "GET"})
    assert ("Last-Modified", "Fri, 16 Sep 2016 00:00:00 GMT") in reply.headers
