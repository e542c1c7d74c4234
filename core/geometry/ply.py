"""PLY files: a deterministic binary writer and an order-preserving reader.

:func:`write_ply` writes binary little-endian PLY with float32 ``x, y, z`` vertices and
``uchar`` count + ``int32`` index faces, and nothing else (no comments, no timestamps),
so identical input gives identical bytes. :func:`read_ply` reads ASCII and binary PLY
(either byte order), keeps vertex and face order, and ignores properties other than the
positions and the face index list.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.geometry.mesh import MeshError, TriMesh

__all__ = ["parse_ply", "read_ply", "write_ply"]

_TYPES = {
    "char": "i1",
    "int8": "i1",
    "uchar": "u1",
    "uint8": "u1",
    "short": "i2",
    "int16": "i2",
    "ushort": "u2",
    "uint16": "u2",
    "int": "i4",
    "int32": "i4",
    "uint": "u4",
    "uint32": "u4",
    "float": "f4",
    "float32": "f4",
    "double": "f8",
    "float64": "f8",
}
_FACE_LISTS = ("vertex_indices", "vertex_index")


def write_ply(path: str | Path, vertices: np.ndarray, faces: np.ndarray) -> None:
    """Write a triangle mesh as binary little-endian PLY.

    Args:
        path: destination file (overwritten).
        vertices: (V, 3) positions; stored as float32.
        faces: (F, 3) vertex indices in 0..V-1; stored as int32.

    Raises:
        ValueError: for malformed arrays or indices out of range.
    """
    v = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if f.size and (f.min() < 0 or f.max() >= v.shape[0]):
        raise ValueError("face indices out of range")
    header = (
        "ply\n"
        "format binary_little_endian 1.0\n"
        f"element vertex {v.shape[0]}\n"
        "property float x\n"
        "property float y\n"
        "property float z\n"
        f"element face {f.shape[0]}\n"
        "property list uchar int vertex_indices\n"
        "end_header\n"
    ).encode("ascii")
    face_rows = np.zeros(f.shape[0], dtype=[("n", "u1"), ("i", "<i4", (3,))])
    face_rows["n"] = 3
    face_rows["i"] = f
    with open(path, "wb") as fh:
        fh.write(header)
        fh.write(np.ascontiguousarray(v, dtype="<f4").tobytes())
        fh.write(face_rows.tobytes())


def read_ply(path: str | Path) -> TriMesh:
    """Read a PLY triangle mesh (see :func:`parse_ply`)."""
    vertices, faces = parse_ply(Path(path))
    return TriMesh(vertices, faces)


def _parse_header(path: Path, data: bytes) -> tuple[str, list[dict], int]:
    marker = data.find(b"end_header")
    if not data.startswith(b"ply") or marker < 0:
        raise MeshError(path, "not a PLY file (missing 'ply' or 'end_header')")
    body = data.find(b"\n", marker) + 1
    if body == 0:
        raise MeshError(path, "truncated PLY header")
    fmt = ""
    elements: list[dict] = []
    for raw in data[:marker].decode("ascii", errors="replace").splitlines()[1:]:
        words = raw.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "format":
            fmt = words[1]
        elif words[0] == "element":
            elements.append({"name": words[1], "count": int(words[2]), "props": []})
        elif words[0] == "property":
            if not elements:
                raise MeshError(path, "PLY property before any element")
            if words[1] == "list":
                prop = ("list", _TYPES[words[2]], _TYPES[words[3]], words[4])
            else:
                prop = ("scalar", _TYPES[words[1]], words[2])
            elements[-1]["props"].append(prop)
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise MeshError(path, f"unknown PLY format {fmt!r}")
    return fmt, elements, body


def _ascii_elements(path: Path, text: str, elements: list[dict]) -> dict[str, dict]:
    tokens = text.split()
    pos = 0
    out: dict[str, dict] = {}
    for el in elements:
        props = el["props"]
        if all(p[0] == "scalar" for p in props):
            n = len(props) * el["count"]
            table = np.asarray(tokens[pos : pos + n], dtype=np.float64)
            if table.size != n:
                raise MeshError(path, f"truncated PLY element {el['name']!r}")
            table = table.reshape(el["count"], len(props))
            out[el["name"]] = {p[2]: table[:, k] for k, p in enumerate(props)}
            pos += n
            continue
        columns: dict[str, list] = {p[-1]: [] for p in props}
        for _ in range(el["count"]):
            for p in props:
                if p[0] == "scalar":
                    columns[p[2]].append(float(tokens[pos]))
                    pos += 1
                else:
                    count = int(tokens[pos])
                    columns[p[3]].append([int(t) for t in tokens[pos + 1 : pos + 1 + count]])
                    pos += 1 + count
        out[el["name"]] = columns
    return out


def _binary_elements(
    path: Path, data: bytes, body: int, elements: list[dict], order: str
) -> dict[str, dict]:
    pos = body
    out: dict[str, dict] = {}
    for el in elements:
        props = el["props"]
        count = el["count"]
        if all(p[0] == "scalar" for p in props):
            dtype = np.dtype([(p[2], order + p[1]) for p in props])
            table = np.frombuffer(data, dtype=dtype, count=count, offset=pos)
            out[el["name"]] = {p[2]: table[p[2]] for p in props}
            pos += dtype.itemsize * count
            continue
        # Elements with lists: assume every list holds 3 items (triangles), read them in
        # one go, then check that assumption; the first wrong count is read in place,
        # so a mismatch is always detected.
        fields = []
        for p in props:
            if p[0] == "scalar":
                fields.append((p[2], order + p[1]))
            else:
                fields.append((p[3] + "#n", order + p[1]))
                fields.append((p[3], order + p[2], (3,)))
        dtype = np.dtype(fields)
        if count and el["name"] == "face":
            first = next(p for p in props if p[0] == "list")
            # Check the first list count before reading so a quad mesh fails clearly.
            lead = 0
            for p in props:
                if p is first:
                    break
                lead += np.dtype(p[1]).itemsize
            n0 = np.frombuffer(data, dtype=order + first[1], count=1, offset=pos + lead)[0]
            if int(n0) != 3:
                raise MeshError(path, f"non-triangular faces (face 0 has {int(n0)} vertices)")
        available = (len(data) - pos) // dtype.itemsize
        table = np.frombuffer(data, dtype=dtype, count=min(count, available), offset=pos)
        for p in props:
            if p[0] == "list" and np.any(table[p[3] + "#n"] != 3):
                raise MeshError(path, f"non-triangular faces in element {el['name']!r}")
        if table.shape[0] < count:
            raise MeshError(path, f"truncated PLY element {el['name']!r}")
        out[el["name"]] = {f[0]: table[f[0]] for f in fields}
        pos += dtype.itemsize * count
    if pos > len(data):
        raise MeshError(path, "truncated PLY data")
    return out


def parse_ply(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse a PLY file into ((V, 3) float64 vertices, (F, 3) int64 faces).

    Raises:
        MeshError: naming the file, for a malformed or truncated file, missing x/y/z
            properties or non-triangular faces.
    """
    path = Path(path)
    if not path.is_file():
        raise MeshError(path, "file not found")
    try:
        data = path.read_bytes()
        fmt, elements, body = _parse_header(path, data)
        if fmt == "ascii":
            table = _ascii_elements(path, data[body:].decode("ascii"), elements)
        else:
            order = "<" if fmt == "binary_little_endian" else ">"
            table = _binary_elements(path, data, body, elements, order)
    except MeshError:
        raise
    except Exception as exc:  # any parser failure means a truncated or corrupt file
        raise MeshError(path, f"truncated or corrupt PLY ({type(exc).__name__}: {exc})") from exc
    vertex = table.get("vertex")
    if vertex is None or not all(k in vertex for k in ("x", "y", "z")):
        raise MeshError(path, "PLY has no vertex element with x, y, z")
    vertices = np.stack([np.asarray(vertex[k], dtype=np.float64) for k in ("x", "y", "z")], axis=1)
    face = table.get("face", {})
    key = next((k for k in _FACE_LISTS if k in face), None)
    if key is None:
        return vertices, np.zeros((0, 3), dtype=np.int64)
    lists = face[key]
    if isinstance(lists, list):
        bad = next((len(x) for x in lists if len(x) != 3), None)
        if bad is not None:
            raise MeshError(path, f"non-triangular faces (a face has {bad} vertices)")
    faces = np.asarray(lists, dtype=np.int64).reshape(-1, 3)
    return vertices, faces
