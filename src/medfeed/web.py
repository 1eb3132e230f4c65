"""The web app: documents served straight from the current snapshot, Flask for the rest.

A GET or HEAD for a feed or page is answered by ``DocumentServer`` with bytes and headers
computed when the content changed: a lookup and a response. Flask handles what is left:
404 pages, /healthz, redirects and methods other than GET and HEAD.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, current_app, jsonify, redirect, request
from flask import Response as FlaskResponse
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from medfeed.delivery import PAGE_HEADERS, Document, answer
from medfeed.errors import NotFound, UnknownCategory
from medfeed.settings import Settings, env_config
from medfeed.site import Publisher, Snapshot
from medfeed.urls import Format, page_path

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

EXTENSION = "medfeed"
HEALTH_PROBLEMS = 50
"""At most this many problems in /healthz, so that the body stays small."""

bp = Blueprint("medfeed", __name__)


class DocumentServer:
    """WSGI middleware: answers GET and HEAD for known documents, passes the rest on."""

    def __init__(self, app: WSGIApplication, publisher: Publisher, *, watch: bool) -> None:
        self.app = app
        self.publisher = publisher
        self.watch = watch

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.watch:
            # Started in the process that serves: a gunicorn worker forked from a
            # preloading master needs its own watcher thread.
            self.publisher.watch()
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            doc = self.publisher.snapshot().document(environ.get("PATH_INFO", ""))
            if doc is not None:
                reply = answer(doc, environ)
                start_response(reply.status, list(reply.headers))
                return [reply.body]
        return self.app(environ, start_response)


def get_publisher() -> Publisher:
    """The publisher of the app handling this request."""
    publisher: Publisher = current_app.extensions[EXTENSION]
    return publisher


def current() -> Snapshot:
    """The snapshot that answers this request."""
    return get_publisher().snapshot()


def send(doc: Document) -> Response:
    """Answer with a document, as DocumentServer would."""
    reply = answer(doc, request.environ)
    return FlaskResponse(reply.body, status=reply.status, headers=list(reply.headers))


# DocumentServer answers every document it finds; these views define the URL map and
# answer what it did not find: a specific 404, or a document that appeared in between.
@bp.get("/")
def index() -> Response:
    return send(current().index_page())


@bp.get("/feed.<any(rss, atom):fmt>")
def feed(fmt: Format) -> Response:
    return send(current().feed(None, fmt))


@bp.get("/categories/")
def categories() -> Response:
    # The categories' URL is the scheme of every feed category; the list lives on /.
    return redirect(page_path() + "#subscribe", code=302)


@bp.get("/categories/<slug>/")
def category(slug: str) -> Response:
    return send(current().category_page(slug))


@bp.get("/categories/<slug>/feed.<any(rss, atom):fmt>")
def category_feed(slug: str, fmt: Format) -> Response:
    return send(current().feed(slug, fmt))


@bp.get("/entries/<slug>/")
def entry(slug: str) -> Response:
    return send(current().entry_page(slug))


@bp.get("/healthz")
def healthz() -> Response:
    health = get_publisher().health()
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
            for p in health.problems[:HEALTH_PROBLEMS]
        ],
    }
    response = jsonify(body)
    response.cache_control.no_store = True
    return response


def _error_page(status: int, title: str, message: str) -> Response:
    body = current().error_page(status, title, message)
    response = FlaskResponse(body, status=status, content_type="text/html; charset=utf-8")
    response.headers["X-Content-Type-Options"] = "nosniff"
    for name, value in PAGE_HEADERS:
        response.headers[name] = value
    response.cache_control.public = True
    response.cache_control.max_age = 60
    return response


def not_found(error: NotFound) -> Response:
    what = "category" if isinstance(error, UnknownCategory) else "entry"
    return _error_page(404, "Not found", f"There is no {what} named “{error}” here.")


def http_error(error: HTTPException) -> Response:
    status = error.code or 500
    response = _error_page(status, f"{status} {error.name}", error.description or "")
    if status == 405:
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
    app.register_blueprint(bp)
    app.register_error_handler(NotFound, not_found)
    app.register_error_handler(HTTPException, http_error)
    serve_documents: Callable[..., Iterable[bytes]] = DocumentServer(
        app.wsgi_app, publisher, watch=settings.watch
    )
    app.wsgi_app = serve_documents  # type: ignore[method-assign]
    return app
