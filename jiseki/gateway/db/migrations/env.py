"""Alembic environment: runs on the connection the gateway hands over (see engine.upgrade_to_head)."""

from alembic import context

from jiseki.gateway.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `jiseki db upgrade` or the gateway, which pass a connection")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
