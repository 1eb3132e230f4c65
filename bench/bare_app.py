"""The baseline of the throughput benchmark: a bare Flask app returning fixed feed bytes.

It answers /feed.atom with the bytes of the file named by the environment variable
BENCH_FEED_FILE, read once at import, with medfeed's Atom Content-Type; /feed.rss likewise
from BENCH_RSS_FILE when that is set (404 otherwise). No validators, no negotiation:
every GET is a 200 with the same bytes.

Usage: BENCH_FEED_FILE=feed.atom gunicorn -w 2 --chdir bench bare_app:app
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response, abort

ATOM_TYPE = "application/atom+xml; charset=utf-8"
RSS_TYPE = "application/rss+xml; charset=utf-8"

ATOM = Path(os.environ["BENCH_FEED_FILE"]).read_bytes()
RSS = Path(os.environ["BENCH_RSS_FILE"]).read_bytes() if os.environ.get("BENCH_RSS_FILE") else None

app = Flask(__name__)


@app.get("/feed.atom")
def atom() -> Response:
    return Response(ATOM, content_type=ATOM_TYPE)


@app.get("/feed.rss")
def rss() -> Response:
    if RSS is None:
        abort(404)
    return Response(RSS, content_type=RSS_TYPE)
