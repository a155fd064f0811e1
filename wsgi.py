"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi desk ...``."""
from requests_desk.app import create_app

app = create_app()
