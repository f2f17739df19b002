"""The app-wide resources bound to a Flask app: the one `processes.Database` of the process."""

from __future__ import annotations

from flask import Flask, Response, current_app

from processes import Database

_KEY = "amflow.database"


def init_database(app: Flask) -> Database:
    """Create the app's Database from `DATABASE_URL`; use cases open and commit their own transactions."""
    database = Database(app.config["DATABASE_URL"])
    app.extensions[_KEY] = database

    @app.after_request
    def end_request_transaction(response: Response) -> Response:
        # what a request's transaction still holds after its blocks is what they read: commit it before the
        # answer goes out (a failure here is a 500, never a 200 for work that was not saved)
        database.end_request(commit=True)
        return response

    @app.teardown_request
    def drop_request_transaction(_error: BaseException | None) -> None:
        database.end_request(commit=False)  # an unhandled error skipped after_request: roll back

    return database


def get_database(app: Flask | None = None) -> Database:
    """The Database of the current (or given) app."""
    return (app or current_app).extensions[_KEY]
