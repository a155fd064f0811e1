"""The baseline of ``make bench``: the smallest Flask app, served like the desk."""
from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello, World!"
