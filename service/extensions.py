"""The app-wide resources bound to a Flask app: the one `processes.Database` of the process."""

from __future__ import annotations

from flask import Flask, current_app

from processes import Database

_KEY = "amflow.database"


def init_database(app: Flask) -> Database:
    """Create the app's Database from `DATABASE_URL`; use cases open and commit their own transactions."""
    database = Database(app.config["DATABASE_URL"])
    app.extensions[_KEY] = database
    return database


def get_database(app: Flask | None = None) -> Database:
    """The Database of the current (or given) app."""
    return (app or current_app).extensions[_KEY]
