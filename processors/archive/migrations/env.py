"""Alembic's environment for the archive: run on the connection `command-center db upgrade` hands it
(processors/archive/db.py), PostgreSQL or SQLite alike (batch mode, so a later ALTER works on SQLite too)."""

from alembic import context

from processors.archive.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
