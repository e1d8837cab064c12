"""Entry point for gunicorn: `gunicorn wsgi:app`."""

from mdt import create_app

app = create_app()
