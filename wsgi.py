"""gunicorn entry point: ``gunicorn wsgi:app``."""

from deployserver import create_app

app = create_app()
