"""``medfeed serve``: the development server, for trying the site out.

Every bad setting is reported at once, the port's being taken among them: the server's
socket is opened before anything is announced, and handed to the server as it is.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import click

from medfeed.clioptions import fail
from medfeed.errors import ConfigError, MedfeedError, Problem
from medfeed.logs import LOGGER, configure_logging
from medfeed.settings import (
    DEFAULT_ENTRIES,
    Settings,
    host_problem,
    local_base_url,
    port_number,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default="8000", show_default=True, help="Port to listen on (1-65535).")
@click.option(
    "--entries",
    type=click.Path(path_type=Path),
    envvar="MEDFEED_ENTRIES",
    default=DEFAULT_ENTRIES,
    show_default=True,
    help="The entries folder (env MEDFEED_ENTRIES).",
)
def serve(host: str, port: str, entries: Path) -> None:
    """Serve the site with the development server, for trying it out.

    Links use http://HOST:PORT/ unless MEDFEED_BASE_URL is set.
    For production, run gunicorn: gunicorn wsgi:app

    Example: medfeed serve --port 8000 --entries entries
    """
    # Imported here so that validate and schema do not load Flask.
    from medfeed.web import create_app

    # Every bad setting is reported at once, by the name the operator typed, so the
    # options are checked here rather than by click, which stops at the first.
    problems = []
    trouble = host_problem(host)
    if trouble:
        problems.append(Problem("--host", "", trouble))
    number = port_number(port)
    if number is None:
        problems.append(Problem("--port", "", f"{port!r} is not a port number (1-65535)"))
    listener = None
    if number is not None and not trouble:
        listener, busy = listen(host, number)
        problems += [busy] if busy else []
    source = click.get_current_context().get_parameter_source("entries")
    from_env = source is click.core.ParameterSource.ENVIRONMENT
    config = {"ENTRIES_DIR": str(entries)}
    names = {"ENTRIES_DIR": "MEDFEED_ENTRIES" if from_env else "--entries"}
    if not os.environ.get("MEDFEED_BASE_URL") and number is not None and not problems:
        config["BASE_URL"] = local_base_url(host, number)
    try:
        settings = Settings.load(os.environ, config, names)
    except ConfigError as e:
        problems.extend(e.problems)
    if problems or number is None or listener is None:
        if listener is not None:
            listener.close()
        raise fail(ConfigError(problems))
    with listener:
        configure_logging((LOGGER, "werkzeug"))
        try:
            app = create_app(settings=settings)
        except MedfeedError as e:
            raise fail(e) from e
        click.echo(f"medfeed: serving {entries} at {settings.base_url}", err=True)
        run_server(app, host, number, listener)


def listen(host: str, port: int) -> tuple[socket.socket | None, Problem | None]:
    """A socket listening on ``host`` and ``port`` for the development server, or why
    there can be none, naming the option to change."""
    host = host or "127.0.0.1"  # as Flask's own development server does
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        address = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)[0][4]
    except (socket.gaierror, UnicodeError) as e:
        return None, Problem("--host", "", f"{host!r} cannot be resolved ({e})")
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        # As the server itself would: a port left in TIME_WAIT by a stopped server is free.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen()
    except OSError as e:
        listener.close()
        if e.errno == errno.EADDRINUSE:
            message = f"{port} is in use on {host} by another program; stop it or choose another"
            return None, Problem("--port", "", message)
        option = "--host" if e.errno == errno.EADDRNOTAVAIL else "--port"
        return None, Problem(option, "", f"cannot listen on {host}:{port} ({e.strerror or e})")
    return listener, None


def run_server(app: WSGIApplication, host: str, port: int, listener: socket.socket) -> None:
    """Serve ``app`` on the socket already listening, until interrupted."""
    from werkzeug.serving import make_server

    server = make_server(host or "127.0.0.1", port, app, threaded=True, fd=listener.fileno())
    server.serve_forever()
