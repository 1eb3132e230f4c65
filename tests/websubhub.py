"""A real WebSub hub and a real subscriber on 127.0.0.1, for the WebSub tests.

The hub is flask-websub's (PyPI), with Celery in eager mode and no broker: a publish
ping is handled within its request (the hub fetches the topic and delivers it to each
subscriber before it answers 202). The subscriber is a small HTTP server that asks the
hub for subscriptions with a secret, answers the hub's verification of intent, and keeps
every delivery with its headers and whether its ``X-Hub-Signature`` is valid.
(flask-websub's own subscriber sends a secret only to https hubs, so it could not check
signatures here.)
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from celery import Celery
from flask import Flask, request
from flask_websub.hub import Hub, SQLite3HubStorage
from werkzeug.serving import BaseWSGIServer, make_server

HOST = "127.0.0.1"
SECRET = "a secret of the subscriber's"
_apps = itertools.count()


class HubServer:
    """flask-websub's hub at ``http://127.0.0.1:<port>/hub``, which can be stopped and
    started again on the same port, or told to answer publish pings with an error."""

    def __init__(self, folder: Path, port: int) -> None:
        self.port = port
        self.url = f"http://{HOST}:{port}/hub"
        self.publishes: list[dict[str, str]] = []
        """The form of every publish ping accepted."""
        self.refused: list[dict[str, str]] = []
        """The form of every publish ping answered with ``fail_status``."""
        self.fail_next = 0
        self.fail_status = 500
        self.arrivals = 0
        """Publish pings that reached the hub, answered yet or not."""
        self.hang = threading.Event()
        """Cleared, publish pings wait (up to 8 s) until it is set again."""
        self.hang.set()
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        number = next(_apps)
        celery = Celery(f"websub-test-hub-{number}", broker="memory://", set_as_current=False)
        celery.conf.task_always_eager = True
        app = Flask(f"websub-test-hub-{number}")
        app.config["PUBLISH_SUPPORTED"] = True
        hub = Hub(
            SQLite3HubStorage(str(folder / f"hub-{number}.sqlite")),
            celery,
            # Deliveries to the subscriber: tried again at once, a few times.
            BACKOFF_BASE=0.01,
            MAX_ATTEMPTS=3,
            SIGNATURE_ALGORITHM="sha256",
            REQUEST_TIMEOUT=5,
        )
        app.register_blueprint(hub.build_blueprint(url_prefix="/hub"))
        app.before_request(self._before)
        self.app = app

    def _before(self) -> tuple[str, int] | None:
        if request.form.get("hub.mode") != "publish":
            return None
        with self._lock:
            self.arrivals += 1
        self.hang.wait(8)
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                self.refused.append(dict(request.form))
                return "the hub fails on purpose\n", self.fail_status
            self.publishes.append(dict(request.form))
        return None

    def start(self) -> HubServer:
        server = make_server(HOST, self.port, self.app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def published(self, topic: str | None = None) -> list[dict[str, str]]:
        """The publish pings accepted (for one topic)."""
        with self._lock:
            return [p for p in self.publishes if topic is None or p.get("hub.topic") == topic]


@dataclass(frozen=True)
class Delivery:
    """One content distribution request the subscriber received."""

    topic: str
    content_type: str
    body: bytes
    signed: bool
    """Whether X-Hub-Signature is the HMAC of the body with the subscription's secret."""
    at: float


class Subscriber:
    """A WebSub subscriber on 127.0.0.1: one callback URL per topic."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.topics: dict[str, str] = {}
        """The topic of each callback path."""
        self.verified: set[str] = set()
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the handler's naming
                # The hub verifies our intent: echo the challenge for a topic we asked for.
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                topic = owner.topics.get(url.path)
                if topic is None or query.get("hub.topic") != topic:
                    self._answer(404, b"")
                    return
                with owner._lock:
                    owner.verified.add(topic)
                self._answer(200, query.get("hub.challenge", "").encode())

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                topic = owner.topics.get(self.path)
                if topic is None:
                    self._answer(410, b"")
                    return
                method, _, digest = (self.headers.get("X-Hub-Signature") or "").partition("=")
                expected = ""
                if method in hashlib.algorithms_guaranteed:
                    expected = hmac.new(SECRET.encode(), body, method).hexdigest()
                signed = bool(digest) and hmac.compare_digest(expected, digest)
                content_type = self.headers.get("Content-Type") or ""
                with owner._lock:
                    delivery = Delivery(topic, content_type, body, signed, time.monotonic())
                    owner.deliveries.append(delivery)
                self._answer(200, b"")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.base = f"http://{HOST}:{self._server.server_port}"

    def subscribe(self, hub: str, topic: str) -> None:
        """Subscribe through the hub; returns once the hub has verified the intent."""
        path = f"/callback/{len(self.topics)}"
        self.topics[path] = topic
        form = {
            "hub.mode": "subscribe",
            "hub.topic": topic,
            "hub.callback": self.base + path,
            "hub.secret": SECRET,
            "hub.lease_seconds": "3600",
        }
        data = urllib.parse.urlencode(form).encode()
        with urllib.request.urlopen(urllib.request.Request(hub, data), timeout=10) as answer:
            assert answer.status == 202
        # Celery runs eagerly: the hub has asked us before it answered.
        assert topic in self.verified, f"the hub did not verify {topic}"

    def received(self, topic: str | None = None) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if topic is None or d.topic == topic]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` s pass; whether it held."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
