"""The web app: documents served straight from the current snapshot, Flask for the rest.

A GET or HEAD for a feed or page is answered by ``DocumentServer`` with bytes and headers
computed when the content changed: a lookup and a response. Flask handles what is left:
404 pages, /healthz, redirects and methods other than GET and HEAD.

Two rules hold for every answer, whoever makes it: it says ``Vary: Accept-Encoding``, and
no URL in it comes from the client's Host header or scheme: redirects start at the site's
public base URL.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from flask import Blueprint, Flask, Request, current_app, jsonify, redirect, request
from flask import Response as FlaskResponse
from werkzeug.exceptions import HTTPException
from werkzeug.routing import MapAdapter
from werkzeug.wrappers import Response

from medfeed.delivery import PAGE_HEADERS, Document, answer, with_vary
from medfeed.errors import CacheDamaged, NotFound, RenderError, UnknownCategory, UnknownEntry
from medfeed.health import health_report
from medfeed.logs import configure_logging
from medfeed.pinger import Pinger
from medfeed.settings import Settings
from medfeed.site import Publisher, SnapshotListener
from medfeed.snapshot import Snapshot
from medfeed.urls import absolute, entry_path, page_path
from medfeed.websub import LinkHeaders

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

EXTENSION = "medfeed"
LINKS = "medfeed.links"

# What stays unescaped in a redirect's path (werkzeug's set, the WHATWG path-segment
# characters) and query (the same with "?" and "%", so the client's escapes survive).
# Everything else, CR and LF included, is percent-encoded: a Location can carry no header.
PATH_SAFE = "!$&'()*+,/:;=@"
QUERY_SAFE = PATH_SAFE + "?%"

bp = Blueprint("medfeed", __name__)


class DocumentServer:
    """WSGI middleware: answers GET and HEAD for known documents, passes the rest on."""

    def __init__(
        self, app: WSGIApplication, publisher: Publisher, links: LinkHeaders, *, watch: bool
    ) -> None:
        self.app = app
        self.publisher = publisher
        self.links = links
        self.watch = watch

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.watch:
            # Started in the process that serves: a gunicorn worker forked from a
            # preloading master needs its own watcher thread.
            self.publisher.watch()
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            snapshot = self.publisher.snapshot()
            path = environ.get("PATH_INFO", "")
            try:
                doc = snapshot.document(path)
            except CacheDamaged as e:
                self.publisher.read_files_again(e)
                snapshot = self.publisher.snapshot()
                doc = snapshot.document(path)
            if doc is not None:
                reply = answer(doc, environ, self.links.of(snapshot, path))
                start_response(reply.status, list(reply.headers))
                return [reply.body]

        # Documents carry Vary already; everything Flask answers (errors, redirects,
        # /healthz, OPTIONS) gets it here, so no cache keeps one encoding's answer for all.
        def start_varying(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            return start_response(status, with_vary(headers), exc_info)

        return self.app(environ, start_varying)


class App(Flask):
    """Flask whose URLs, redirects included, start at the site's public base URL."""

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        """Bind the URL map to the public base URL, never to the client's Host or scheme."""
        if request is None:
            return super().create_url_adapter(request)
        # Flask binds to the Host header and the request's scheme, so its slash redirects
        # said "Location: http://<whatever the client named>/...".
        base = urlsplit(get_base_url(self))
        return self.url_map.bind(
            base.netloc,
            script_name=base.path,
            subdomain=self.url_map.default_subdomain or "",
            url_scheme=base.scheme,
            path_info=request.path,
            default_method=request.method,
            query_args=safe_query(request.query_string),
        )


def safe_query(query_string: bytes) -> str:
    """A query string fit for a Location header: percent-encoded past the URL characters."""
    return quote(query_string, safe=QUERY_SAFE)


def get_base_url(app: Flask) -> str:
    """The public base URL of the snapshot the app serves now."""
    publisher: Publisher = app.extensions[EXTENSION]
    return publisher.snapshot().base_url


def public_url(path: str) -> str:
    """A site path as a public URL, with this request's query: nothing from the Host."""
    url = absolute(get_base_url(current_app), quote(path, safe=PATH_SAFE))
    query = safe_query(request.query_string)
    return f"{url}?{query}" if query else url


def get_publisher() -> Publisher:
    """The publisher of the app handling this request."""
    publisher: Publisher = current_app.extensions[EXTENSION]
    return publisher


def current() -> Snapshot:
    """The snapshot that answers this request."""
    return get_publisher().snapshot()


def send(doc: Document) -> Response:
    """Answer with the document at this request's path, as DocumentServer would."""
    links: LinkHeaders = current_app.extensions[LINKS]
    reply = answer(doc, request.environ, links.of(current(), request.path))
    return FlaskResponse(reply.body, status=reply.status, headers=list(reply.headers))


@bp.before_app_request
def merge_slashes() -> Response | None:
    """Redirect ``//feed.rss`` or ``/categories//x/`` to the one address of the document."""
    # werkzeug strips leading slashes before matching, so without this such a path is a
    # second URL for the same document; a relative "//x" Location would even leave the
    # site, which is why the redirect is absolute.
    raw = request.environ.get("PATH_INFO", "")
    if "//" not in raw or request.routing_exception is not None:
        return None
    # Doubled slashes anywhere: werkzeug merges them for its own rules, but a catch-all
    # rule would take "/categories//x/" as it is.
    merged = re.sub("/{2,}", "/", request.path)
    if current().document(merged) is None:
        return None
    return redirect(public_url(merged), code=308)


# DocumentServer answers every document it finds; these views define the URL map and
# answer what it did not find: a specific 404, or a document that appeared in between.
def send_path(path: str) -> Response:
    """Answer with the document at a path, or send a folder's address to its final slash."""
    snapshot = current()
    if not path.endswith("/") and snapshot.document(path + "/") is not None:
        return redirect(public_url(path + "/"), code=308)
    return send(snapshot.page(path))


@bp.get("/", defaults={"name": ""})
@bp.get("/<name>")
def site_document(name: str) -> Response:
    return send_path(request.path)


@bp.get("/categories/")
def categories() -> Response:
    # The categories' URL is the scheme of every feed category; the list lives on /.
    return redirect(public_url(page_path()) + "#subscribe", code=302)


@bp.get("/categories/<slug>/", defaults={"name": ""})
@bp.get("/categories/<slug>/<name>")
def category_document(slug: str, name: str) -> Response:
    return send_path(request.path)


@bp.get("/entries/<slug>/", defaults={"name": ""})
@bp.get("/entries/<slug>/<name>")
def entry_document(slug: str, name: str) -> Response:
    snapshot = current()
    moved = snapshot.redirects.get(slug)
    if moved is not None:
        # An earlier slug of a renamed entry: moved for good, so links and bookmarks
        # keep working.
        response = redirect(public_url(entry_path(moved) + name), code=301)
        response.cache_control.public = True
        response.cache_control.max_age = snapshot.site.max_age
        return response
    return send(snapshot.page(request.path))


@bp.get("/<path:rest>")
def other_document(rest: str) -> Response:
    # The archive's folders, and any other folder of the table.
    return send_path(request.path)


@bp.get("/healthz")
def healthz() -> Response:
    response = jsonify(health_report(get_publisher()))
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
    if isinstance(error, UnknownCategory | UnknownEntry):
        what = "category" if isinstance(error, UnknownCategory) else "entry"
        return _error_page(404, "Not found", f"There is no {what} named “{error}” here.")
    return _error_page(404, "Not found", "There is nothing at this address.")


def unrenderable(error: RenderError) -> Response:
    response = _error_page(503, "Not available", "This page cannot be shown at the moment.")
    response.headers["Retry-After"] = "60"
    return response


def http_error(error: HTTPException) -> Response:
    status = error.code or 500
    response = _error_page(status, f"{status} {error.name}", error.description or "")
    if status == 405:
        allowed = getattr(error, "valid_methods", None) or ["GET", "HEAD"]
        response.headers["Allow"] = ", ".join(allowed)
    return response


def create_app(
    config: Mapping[str, Any] | None = None,
    *,
    settings: Settings | None = None,
    listener: SnapshotListener | None = None,
) -> Flask:
    """Build the app: settings from the environment, then ``config``; or ``settings`` as given.

    ``listener`` is told of every snapshot served; by default the WebSub pinger.

    Raises:
        ConfigError: every unusable setting at once, or site.toml's problems.
    """
    # Log lines get a time, level and pid wherever the app runs, unless logging was set
    # up already (by gunicorn's --log-config, medfeed serve or a test runner).
    configure_logging()
    if settings is None:
        settings = Settings.load(os.environ, config)
    elif config:
        raise TypeError("create_app takes config or settings, not both")
    app = App(__name__, static_folder=None)
    publisher = Publisher(settings, listener=listener or Pinger(settings.state_folder))
    app.extensions[EXTENSION] = publisher
    links = LinkHeaders()
    app.extensions[LINKS] = links
    app.register_blueprint(bp)
    app.register_error_handler(NotFound, not_found)
    app.register_error_handler(RenderError, unrenderable)
    app.register_error_handler(HTTPException, http_error)
    serve_documents: Callable[..., Iterable[bytes]] = DocumentServer(
        app.wsgi_app, publisher, links, watch=settings.watch
    )
    app.wsgi_app = serve_documents  # type: ignore[method-assign]
    return app
