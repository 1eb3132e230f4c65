"""WSGI entry point for production servers: ``gunicorn wsgi:app``."""

from medfeed import create_app

app = create_app()
