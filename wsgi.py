"""WSGI entry point for production servers: ``gunicorn wsgi:app``."""

import gc

from medfeed import create_app
from medfeed.errors import ConfigError
from medfeed.logs import configure_logging, exit_for_start_failure

# Before the app exists, so that the problems it finds while loading are logged with
# gunicorn's format (time, pid, level) and to gunicorn's error log.
configure_logging()
try:
    app = create_app()
except ConfigError as e:
    # One line per problem instead of a traceback, once however many workers fail alike.
    exit_for_start_failure(e.problems)

# The loaded entries live as long as the process: keep the cyclic collector from
# scanning them again and again (a full pass over 10,000 entries costs ~50 ms).
gc.freeze()
