"""The databases of the figures that run at scale beside `make bench`'s own (PostgreSQL only): a
database of their own on the same server, and its URL for a child process."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def server_connection() -> Any:
    """A psycopg2 connection (autocommit) to the `postgres` database of `DATABASE_URL`'s server,
    for CREATE and DROP DATABASE; close it after use."""
    import psycopg2

    db = settings.DATABASES["default"]
    params = {"host": db.get("HOST") or None, "port": db.get("PORT") or None,
              "user": db.get("USER") or None, "password": db.get("PASSWORD") or None}
    server = psycopg2.connect(dbname="postgres", **{k: v for k, v in params.items() if v})
    server.autocommit = True
    return server


def database_url(name: str) -> str:
    """The URL of the database `name` on `DATABASE_URL`'s server, with its user and password."""
    db = settings.DATABASES["default"]
    auth = (f"{db['USER']}" + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "") + "@"
            if db.get("USER") else "")
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{name}"
