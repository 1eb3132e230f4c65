"""The Flask app: routes that look documents up and answer with HTTP caching."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, redirect, request
from flask import Response as FlaskResponse
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from medfeed.errors import NotFound, UnknownCategory
from medfeed.settings import Settings, env_config
from medfeed.site import Document, Publisher, Snapshot
from medfeed.urls import Format, page_path

EXTENSION = "medfeed"
# The pages use no scripts and no outside assets; the one inline <style> is allowed.
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

HEALTH_PROBLEMS = 50
"""At most this many problems in /healthz, so that the body stays small."""

bp = Blueprint("medfeed", __name__)
log = logging.getLogger("medfeed")


def get_publisher() -> Publisher:
    """The publisher of the app handling this request."""
    publisher: Publisher = current_app.extensions[EXTENSION]
    return publisher


def current() -> Snapshot:
    """The snapshot that answers this request."""
    return get_publisher().snapshot()


def send(doc: Document, snapshot: Snapshot) -> Response:
    """Answer with a document, honouring If-None-Match and If-Modified-Since."""
    response = FlaskResponse(doc.body, content_type=doc.content_type)
    response.set_etag(doc.etag)
    response.last_modified = doc.last_modified
    response.cache_control.public = True
    response.cache_control.max_age = snapshot.site.max_age
    response.headers["X-Content-Type-Options"] = "nosniff"
    if doc.content_type.startswith("text/html"):
        response.headers["Content-Security-Policy"] = PAGE_POLICY
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    return response.make_conditional(request)


@bp.get("/")
def index() -> Response:
    snapshot = current()
    return send(snapshot.index_page(), snapshot)


@bp.get("/feed.<any(rss, atom):fmt>")
def feed(fmt: Format) -> Response:
    snapshot = current()
    return send(snapshot.feed(None, fmt), snapshot)


@bp.get("/categories/")
def categories() -> Response:
    # The categories' URL is the scheme of every feed category; the list lives on /.
    return redirect(page_path() + "#subscribe", code=302)


@bp.get("/categories/<slug>/")
def category(slug: str) -> Response:
    snapshot = current()
    return send(snapshot.category_page(slug), snapshot)


@bp.get("/categories/<slug>/feed.<any(rss, atom):fmt>")
def category_feed(slug: str, fmt: Format) -> Response:
    snapshot = current()
    return send(snapshot.feed(slug, fmt), snapshot)


@bp.get("/entries/<slug>/")
def entry(slug: str) -> Response:
    snapshot = current()
    return send(snapshot.entry_page(slug), snapshot)


@bp.get("/healthz")
def healthz() -> Response:
    health = get_publisher().health()
    shown = health.problems[:HEALTH_PROBLEMS]
    body = {
        "status": health.status,
        "entries": health.entries,
        "version": health.version,
        "last_check": health.last_check.isoformat(timespec="seconds"),
        "watching": health.watching,
        "problem_count": len(health.problems),
        "problems": [
            {
                # Relative to the entries folder: never the server's absolute paths.
                "path": p.path.split("/", 1)[-1],
                "field": p.field,
                "message": p.message,
            }
            for p in shown
        ],
    }
    response = jsonify(body)
    response.cache_control.no_store = True
    return response


def _error_page(status: int, title: str, message: str) -> Response:
    body = current().error_page(status, title, message)
    response = FlaskResponse(body, status=status, content_type="text/html; charset=utf-8")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    response.cache_control.public = True
    response.cache_control.max_age = 60
    return response


def not_found(error: NotFound) -> Response:
    what = "category" if isinstance(error, UnknownCategory) else "entry"
    return _error_page(404, "Not found", f"There is no {what} named “{error}” here.")


def http_error(error: HTTPException) -> Response:
    status = error.code or 500
    response = _error_page(status, f"{status} {error.name}", error.description or "")
    if status == 405 and error.response is None:
        allowed = getattr(error, "valid_methods", None) or ["GET", "HEAD"]
        response.headers["Allow"] = ", ".join(allowed)
    return response


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings from the environment, then from ``config``.

    Raises:
        ConfigError: a setting or site.toml is unusable.
    """
    settings = Settings.from_mapping({**env_config(os.environ), **(config or {})})
    app = Flask(__name__, static_folder=None)
    publisher = Publisher(settings)
    app.extensions[EXTENSION] = publisher
    if settings.watch:
        # Started on the first request, in the process that serves it: a gunicorn
        # worker forked from a preloading master needs its own watcher thread.
        app.before_request(publisher.watch)
    app.register_blueprint(bp)
    app.register_error_handler(NotFound, not_found)
    app.register_error_handler(HTTPException, http_error)
    return app
