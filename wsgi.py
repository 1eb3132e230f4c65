"""WSGI entry point for production servers: ``gunicorn wsgi:app``."""

import gc
import sys

from medfeed import create_app
from medfeed.errors import ConfigError

try:
    app = create_app()
except ConfigError as e:
    # One readable line instead of a traceback; status 3 is gunicorn's "worker failed to
    # boot", which stops the server rather than restarting the worker forever.
    print(f"medfeed: {e}", file=sys.stderr)
    raise SystemExit(3) from None

# The loaded entries live as long as the process: keep the cyclic collector from
# scanning them again and again (a full pass over 10,000 entries costs ~50 ms).
gc.freeze()
