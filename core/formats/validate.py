"""Validation (and small I/O) helpers shared by the format readers and writers.

Every helper takes the value to check plus where it came from (``path``, ``record``,
``field``) and either returns the value in its canonical Python form or raises
:class:`~core.formats.records.FormatError` naming the file, the record index and the
field. None of them lets another exception type escape, whatever the input.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from core.formats.records import FormatError

__all__ = [
    "BARY_TOLERANCE",
    "MAX_INDEX",
    "as_barycentric",
    "as_dict",
    "as_finite_triple",
    "as_index",
    "as_list",
    "as_rgb",
    "as_text",
    "check_plain_json",
    "load_json_file",
    "require_key",
    "type_name",
    "write_text_atomic",
]

#: Tolerance on barycentric weights: each >= -tol and their sum within tol of 1.
BARY_TOLERANCE = 1e-6
#: Largest index accepted anywhere (indices are stored as 32-bit signed integers).
MAX_INDEX = 2**31 - 1


def type_name(value: Any) -> str:
    """Short JSON-ish name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def as_dict(value: Any, path: str | Path, record: int | None, field: str | None) -> dict:
    """``value`` when it is a JSON object (dict), else FormatError."""
    if not isinstance(value, dict):
        raise FormatError(str(path), f"expected an object, got {type_name(value)}",
                          record, field)
    return value


def as_list(value: Any, path: str | Path, record: int | None, field: str | None) -> list:
    """``value`` when it is a JSON array (list), else FormatError."""
    if not isinstance(value, list):
        raise FormatError(str(path), f"expected a list, got {type_name(value)}", record, field)
    return value


def as_text(value: Any, path: str | Path, record: int | None, field: str | None,
            *, allow_empty: bool = False) -> str:
    """``value`` when it is a string (non-empty unless ``allow_empty``), else FormatError."""
    if not isinstance(value, str):
        raise FormatError(str(path), f"expected a string, got {type_name(value)}",
                          record, field)
    if not allow_empty and not value.strip():
        raise FormatError(str(path), "empty string", record, field)
    problem = _unicode_problem(value)
    if problem:
        raise FormatError(str(path), problem, record, field)
    return value


def require_key(obj: dict, key: str, path: str | Path, record: int | None,
                prefix: str | None = None) -> Any:
    """``obj[key]``; FormatError naming ``prefix.key`` when the key is missing."""
    field = f"{prefix}.{key}" if prefix else key
    if key not in obj:
        raise FormatError(str(path), "missing key", record, field)
    return obj[key]


def as_finite_triple(value: Any, path: str | Path, record: int | None,
                     field: str | None) -> tuple[float, float, float]:
    """Three finite numbers as a float tuple (ints are accepted), else FormatError."""
    if not isinstance(value, list | tuple):
        raise FormatError(str(path), f"expected 3 numbers, got {type_name(value)}",
                          record, field)
    if len(value) != 3:
        raise FormatError(str(path), f"expected 3 numbers, got {len(value)} items",
                          record, field)
    out = []
    for i, item in enumerate(value):
        if not _is_number(item):
            raise FormatError(str(path), f"item {i} is {type_name(item)}, not a number",
                              record, field)
        try:
            number = float(item)
        except OverflowError:  # an integer too large for a float
            number = math.inf
        if not math.isfinite(number):
            raise FormatError(str(path), f"item {i} is not finite ({item!r})", record, field)
        out.append(number)
    return out[0], out[1], out[2]


def as_index(value: Any, path: str | Path, record: int | None, field: str | None,
             *, upper: int | None = None) -> int:
    """A non-negative integer (< ``upper`` when given, always <= MAX_INDEX), else FormatError.

    Booleans and floats (even integral ones such as ``3.0``) are rejected.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormatError(str(path), f"expected a non-negative integer, got {type_name(value)}",
                          record, field)
    if value < 0:
        raise FormatError(str(path), f"negative index {value}", record, field)
    if value > MAX_INDEX:
        raise FormatError(str(path), f"index {value} too large (max {MAX_INDEX})",
                          record, field)
    if upper is not None and value >= upper:
        raise FormatError(str(path), f"index {value} out of range (valid: 0..{upper - 1})",
                          record, field)
    return int(value)


def as_barycentric(value: Any, path: str | Path, record: int | None,
                   field: str | None) -> tuple[float, float, float]:
    """Barycentric weights: 3 finite numbers, each >= -1e-6, summing to 1 within 1e-6.

    Returns the weights unchanged (as floats), so that files round-trip exactly.
    """
    weights = as_finite_triple(value, path, record, field)
    low = min(weights)
    if low < -BARY_TOLERANCE:
        raise FormatError(str(path), f"negative barycentric weight {low!r}", record, field)
    total = math.fsum(weights)
    if abs(total - 1.0) > BARY_TOLERANCE:
        raise FormatError(str(path), f"barycentric weights sum to {total!r}, not 1",
                          record, field)
    return weights


def as_rgb(value: Any, path: str | Path, record: int | None,
           field: str | None) -> tuple[int, int, int]:
    """Three integers in 0..255 (booleans and floats rejected), else FormatError."""
    if not isinstance(value, list | tuple) or len(value) != 3:
        got = f"{len(value)} items" if isinstance(value, list | tuple) else type_name(value)
        raise FormatError(str(path), f"expected 3 integers 0..255, got {got}", record, field)
    out = []
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, int):
            raise FormatError(str(path), f"item {i} is {type_name(item)}, not an integer",
                              record, field)
        if not 0 <= item <= 255:
            raise FormatError(str(path), f"item {i} = {item} outside 0..255", record, field)
        out.append(int(item))
    return out[0], out[1], out[2]


def _unicode_problem(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "string with an unpaired surrogate (not valid Unicode)"
    return None


def check_plain_json(value: Any, path: str | Path, record: int | None,
                     field: str | None) -> Any:
    """``value`` when every number nested in it is finite and every string (keys too) is
    valid Unicode, else FormatError naming the nested field (``field.key[3]``). Walks
    iteratively, so any nesting depth is fine."""
    stack: list[tuple[Any, str]] = [(value, field or "")]
    while stack:
        item, where = stack.pop()
        problem = None
        if isinstance(item, float) and not math.isfinite(item):
            problem = f"non-finite number {item!r}"
        elif isinstance(item, str):
            problem = _unicode_problem(item)
        elif isinstance(item, dict):
            for k, v in item.items():
                problem = problem or (_unicode_problem(k) if isinstance(k, str) else None)
                stack.append((v, f"{where}.{k}" if where else str(k)))
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))
        if problem:
            raise FormatError(str(path), problem, record, where or None)
    return value


def load_json_file(path: str | Path) -> Any:
    """Parse a UTF-8 JSON file; FormatError for a missing, unreadable or invalid file.

    ``NaN``/``Infinity`` tokens are accepted by the parser (callers reject non-finite
    numbers where they matter, naming the field).
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise FormatError(str(p), f"cannot read file ({exc.strerror or exc})") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(str(p), f"not UTF-8 text (byte {exc.start})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(
            str(p), f"invalid or truncated JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc
    except (ValueError, RecursionError) as exc:  # huge integers, absurd nesting
        raise FormatError(str(p), f"invalid JSON ({type(exc).__name__}: {exc})") from exc


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` through a temporary file and an atomic rename.

    Raises:
        FormatError: naming ``path`` when the folder is missing or not writable.
    """
    import os
    import tempfile

    p = Path(path)
    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        # mkstemp creates the file private (0600); give it ordinary file permissions.
        os.chmod(tmp_name, (p.stat().st_mode & 0o777) if p.exists() else 0o644)
        os.replace(tmp_name, p)
        tmp_name = None
    except OSError as exc:
        raise FormatError(str(p), f"cannot write file ({exc.strerror or exc})") from exc
    except UnicodeError as exc:
        raise FormatError(str(p), f"cannot encode text as UTF-8 ({exc})") from exc
    finally:
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)
