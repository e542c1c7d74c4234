"""The native JSON bundle: the whole project, every table and column, in one file.

``export_native(store) -> dict`` and ``import_native(store, doc)`` (into a project
with no categories yet) round-trip everything the database holds: ids, versions,
timestamps, roles, templates, flags, point clouds (base64) and format extras.
"""

from __future__ import annotations

import base64
import enum
import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import DateTime, LargeBinary, insert, select, text
from sqlalchemy.orm import Session

from core.formats.records import FormatError
from core.store import migrate
from core.store.project_store import ProjectStore
from core.store.schema import Base, Category

FORMAT = "corrstudio-bundle"
VERSION = 1


def export_native(store: ProjectStore) -> dict:
    """Every row of every table as JSON-ready data (tables in dependency order)."""
    tables = {}
    with store.session() as s:
        for table in Base.metadata.sorted_tables:
            rows = s.execute(select(table).order_by(*table.primary_key.columns)).all()
            tables[table.name] = [{c.name: _to_json(getattr(r, c.name), c.type)
                                   for c in table.columns} for r in rows]
    return {"format": FORMAT, "version": VERSION,
            "schema_revision": migrate.current_revision(store.engine), "tables": tables}


def write_native(store: ProjectStore, path: str | Path) -> None:
    """Write the bundle as indented JSON (keys sorted, stable for diffs)."""
    Path(path).write_text(json.dumps(export_native(store), indent=1, sort_keys=True) + "\n")


def read_native(path: str | Path) -> dict:
    """Read and check a bundle file; raises FormatError naming the file."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise FormatError(str(path), "file not found") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(str(path), f"not a JSON file ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise FormatError(str(path), f"not a CorrStudio bundle (format is not {FORMAT!r})")
    if doc.get("version") != VERSION or not isinstance(doc.get("tables"), dict):
        raise FormatError(str(path), f"unsupported bundle version {doc.get('version')!r}")
    return doc


def import_native(store: ProjectStore, doc: dict, source: str = "bundle") -> int:
    """Load a bundle into a project that holds no categories yet (one transaction).

    Returns the number of rows written. Raises FormatError naming ``source``, the
    table and row at fault; the database is then unchanged.
    """
    # Older revisions load when their tables still match (later migrations only added
    # tables so far); a changed column is caught per row below, naming the table.
    if doc.get("schema_revision") not in migrate.known_revisions():
        raise FormatError(source, f"bundle is at schema revision {doc.get('schema_revision')}, "
                          f"this CorrStudio reads {', '.join(migrate.known_revisions())}")

    def op(s: Session) -> int:
        if s.scalars(select(Category.id).limit(1)).first() is not None:
            raise FormatError(source, "the target project is not empty: import a native "
                              "bundle into a new project")
        written = 0
        for table in Base.metadata.sorted_tables:
            rows = doc["tables"].get(table.name, [])
            if not isinstance(rows, list):
                raise FormatError(source, "must be a list", field=f"tables.{table.name}")
            parsed = []
            for i, row in enumerate(rows):
                if not isinstance(row, dict) or set(row) != {c.name for c in table.columns}:
                    raise FormatError(source, "columns do not match the schema", i,
                                      f"tables.{table.name}")
                try:
                    parsed.append({c.name: _from_json(row[c.name], c.type)
                                   for c in table.columns})
                except (TypeError, ValueError) as exc:
                    raise FormatError(source, str(exc), i, f"tables.{table.name}") from exc
            if table.name == "project":
                s.execute(table.delete())
            if parsed:
                s.execute(insert(table), parsed)
                written += len(parsed)
        if s.get_bind().dialect.name == "postgresql":
            _advance_sequences(s)
        return written

    return store.write(op)


def _advance_sequences(s: Session) -> None:
    for table in Base.metadata.sorted_tables:
        if "id" in table.columns and table.columns["id"].autoincrement in (True, "auto"):
            s.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                           f"COALESCE((SELECT max(id) FROM {table.name}), 1))"))


def _to_json(value, col_type):
    if value is None:
        return None
    if isinstance(col_type, LargeBinary):
        return base64.b64encode(value).decode("ascii")
    if isinstance(col_type, DateTime):  # UTC always (SQLite hands back naive UTC times)
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return utc.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _from_json(value, col_type):
    if value is None:
        return None
    if isinstance(col_type, LargeBinary):
        return base64.b64decode(value.encode("ascii"), validate=True)
    if isinstance(col_type, DateTime):
        return datetime.fromisoformat(value)
    return value
