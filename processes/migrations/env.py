"""Alembic environment: run migrations on the connection ``Database.upgrade`` hands over."""

from alembic import context
from sqlalchemy import create_engine

from processes.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        url = config.attributes.get("connection_url") or config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("no database URL: use `amflow db upgrade` or set sqlalchemy.url")
        engine = create_engine(url)
        with engine.connect() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
            conn.commit()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
