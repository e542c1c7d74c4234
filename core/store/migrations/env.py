"""Alembic environment: runs migrations on the connection the store hands over.

The store calls Alembic programmatically (``core.store.migrate``) with
``config.attributes["connection"]`` set; offline SQL generation is also supported.
"""

from alembic import context

from core.store.schema import Base

target_metadata = Base.metadata
config = context.config


def run_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes["connection"]
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
