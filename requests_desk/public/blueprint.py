"""Published transparency reports' blueprint: no sign-in."""
from flask import Blueprint

bp = Blueprint("public", __name__)
