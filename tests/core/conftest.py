"""Store fixtures: every store test runs on SQLite and on a real PostgreSQL server.

packaging/test.sh starts PostgreSQL on loopback and sets CORRSTUDIO_TEST_PG_URL; without
it the PostgreSQL cases are skipped with that reason.
"""

from __future__ import annotations

import os
import uuid

import pytest

PG_URL = os.environ.get("CORRSTUDIO_TEST_PG_URL")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_target(request, tmp_path):
    """A fresh, empty database target: a project file path or a PostgreSQL URL."""
    if request.param == "sqlite":
        yield tmp_path / "project.corrstudio"
        return
    if not PG_URL:
        pytest.skip("CORRSTUDIO_TEST_PG_URL not set (packaging/test.sh starts PostgreSQL)")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"cs_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
