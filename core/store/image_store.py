"""Images of a project: import, masks, ground-truth cameras and 2D keypoints.

Functions take the :class:`~core.store.project_store.ProjectStore` first. Every write is
one committed transaction through :meth:`ProjectStore.write` (SQLite lock retries,
:class:`StoreUnavailable` when the database stays busy); queries return plain records
(:class:`ImageInfo`, :class:`ImageKeypointRecord`) or numpy arrays, never ORM objects.
Files are read and checked before anything is written, so a bad file changes nothing.

Decisions:

- Storage: the image file's bytes (PNG or JPEG, exactly as given) are stored in the
  database with their SHA-256, so a project is one portable file (or one server database)
  and the hash always describes the stored bytes. ``source_path`` is provenance only.
- Duplicates: importing a file whose SHA-256 is already in the category raises
  :class:`DuplicateImage`, which names both files and carries the stored image as
  ``.existing`` (a folder import catches it and skips). Names are unique per category.
- Size: images above ``max_pixels`` (default :data:`DEFAULT_MAX_PIXELS`, 40 MP) or files
  above :data:`MAX_FILE_BYTES` are refused before decoding.
- Masks are (H, W) bool arrays of the image's size, stored as 1-bit PNG; empty masks are
  refused.
- 2D keypoints are pixels (x right, y down, origin at the image's top-left corner, pixel
  centers at ``i + 0.5``) with a state ``visible`` | ``occluded`` | ``absent`` (COCO's
  v = 2, 1, 0). A visible point lies inside the image (``0 <= x <= W``, ``0 <= y <= H``);
  an occluded one may lie outside it (a truncated object); an absent one has no position.
  Edits follow :class:`~core.store.edits.KeypointEditor`: with ``annotator`` given, only
  the set's owner or an admin may change it (:class:`PermissionDenied`), and changing an
  existing point needs its ``expected_version`` (:class:`ConflictError` otherwise).
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.images import ImageError, decode_image_rgb, probe_image, read_image_bytes
from core.masks import MaskError, decode_mask_png, encode_mask_png, mask_from_png
from core.store.edits import KeypointEditor
from core.store.errors import ConflictError, NotFound, ProjectError
from core.store.project_store import ProjectStore
from core.store.records import ImageInfo, ImageKeypointRecord
from core.store.schema import Category, CorrespondenceSet, Image, ImageKeypoint, ImagePointState

DEFAULT_MAX_PIXELS = 40_000_000  # width * height; larger images are refused at import
MAX_FILE_BYTES = 256 * 2**20  # larger files are refused before they are read
IMAGE_FORMATS = ("PNG", "JPEG")
_IKP = ImageKeypoint.__table__


class DuplicateImage(ProjectError):
    """The category already holds an image with the same content (SHA-256).

    Attributes:
        existing: the stored :class:`ImageInfo`.
    """

    def __init__(self, message: str, existing: ImageInfo) -> None:
        super().__init__(message)
        self.existing = existing


# ------------------------------------------------------------------------------ images
def add_image(store: ProjectStore, category: str | int, path: str | Path,
              name: str | None = None, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Import a PNG or JPEG file into a category (the file's bytes are stored).

    Args:
        category: category name or id.
        path: the image file.
        name: the image's name in the category (default: the file name); unique per category.
        max_pixels: refuse images with more pixels (width * height) than this.

    Returns:
        The new image's :class:`ImageInfo` (width/height in pixels, SHA-256 of the bytes).

    Raises:
        ImageError: missing/unreadable file, not PNG/JPEG, broken or truncated data, or too
            large; the message names the file.
        DuplicateImage: the same bytes are already in the category (``.existing``).
        ProjectError: another image of the category has this name.
        NotFound: no such category.
    """
    path = Path(path)
    data = _read_limited(path)
    fmt, width, height = probe_image(data, path, max_pixels)
    if fmt not in IMAGE_FORMATS:
        raise ImageError(f"{path}: {fmt} images are not supported (import PNG or JPEG)")
    rgb = decode_image_rgb(data, path, max_pixels)  # decodes every pixel: catches truncation
    if rgb.shape[:2] != (height, width):
        raise ImageError(f"{path}: decoded size {rgb.shape[1]} x {rgb.shape[0]} differs from "
                         f"the header's {width} x {height}")
    digest = hashlib.sha256(data).hexdigest()
    name = path.name if name is None else name
    if not name.strip() or len(name) > 200:
        raise ValueError(f"An image name has 1 to 200 characters (got {name!r})")
    source = str(path.resolve())

    def op(s: Session) -> int:
        cat = _category(s, category)
        dup = s.scalars(select(Image.id).where(Image.category_id == cat.id,
                                               Image.sha256 == digest)).first()
        if dup is not None:
            info = _info(s, dup)
            raise DuplicateImage(
                f"{path} is already in category {cat.name!r} as image {info.name!r} "
                f"(same content, imported from {info.source_path}); not added again", info)
        clash = s.execute(select(Image.id, Image.source_path).where(
            Image.category_id == cat.id, Image.name == name)).first()
        if clash is not None:
            raise ProjectError(f"Cannot import {path}: category {cat.name!r} already has an "
                               f"image named {name!r} (from {clash.source_path}); give it "
                               "another name")
        row = Image(category_id=cat.id, name=name, source_path=source, sha256=digest,
                    format=fmt, width=width, height=height, data=data)
        s.add(row)
        s.flush()
        return row.id

    try:
        image_id = store.write(op)
    except IntegrityError as exc:  # a teammate imported the same file/name meanwhile
        raise ProjectError(f"Cannot import {path}: an image with the same content or name "
                           "was just added to the category by someone else") from exc
    return image_info(store, image_id)


def list_images(store: ProjectStore, category: str | int) -> list[ImageInfo]:
    """Images of a category (name or id), sorted by name. Image bytes are not loaded."""
    with store.session() as s:
        cat = _category(s, category)
        ids = s.scalars(select(Image.id).where(Image.category_id == cat.id)
                        .order_by(Image.name)).all()
        return [_info(s, i) for i in ids]


def image_info(store: ProjectStore, image_id: int) -> ImageInfo:
    """One image's :class:`ImageInfo`. Raises :class:`NotFound`."""
    with store.session() as s:
        return _info(s, int(image_id))


def image_data(store: ProjectStore, image_id: int) -> bytes:
    """The stored file bytes (PNG or JPEG as imported; see :attr:`ImageInfo.format`)."""
    with store.session() as s:
        data = s.scalar(select(Image.data).where(Image.id == int(image_id)))
    if data is None:
        raise NotFound(f"No image {image_id} in project {store.target}")
    return bytes(data)


def get_image(store: ProjectStore, image_id: int) -> np.ndarray:
    """The image decoded as an (H, W, 3) uint8 RGB array (H = height, W = width pixels).

    Raises:
        NotFound: no such image.
        ImageError: the stored bytes cannot be decoded (names the image and project).
    """
    with store.session() as s:
        row = s.execute(select(Image.data, Image.name, Image.width, Image.height)
                        .where(Image.id == int(image_id))).first()
    if row is None:
        raise NotFound(f"No image {image_id} in project {store.target}")
    data, name, width, height = row
    label = f"image {name!r} (id {image_id}) in project {store.target}"
    rgb = decode_image_rgb(bytes(data), label, max_pixels=width * height)
    if rgb.shape[:2] != (height, width):
        raise ImageError(f"{label}: stored data is {rgb.shape[1]} x {rgb.shape[0]} pixels, "
                         f"expected {width} x {height}")
    return rgb


def delete_image(store: ProjectStore, image_id: int) -> None:
    """Delete an image with its mask, camera and 2D keypoints. Raises :class:`NotFound`."""
    image_id = int(image_id)

    def op(s: Session) -> None:
        if s.execute(delete(Image).where(Image.id == image_id)).rowcount != 1:
            raise NotFound(f"No image {image_id} in project {store.target}")

    store.write(op)


# ------------------------------------------------------------------------------- masks
def set_mask(store: ProjectStore, image_id: int, mask: np.ndarray | None,
             source: str | Path | None = None) -> None:
    """Store an image's silhouette mask, or remove it with ``mask=None``.

    Args:
        mask: (H, W) array, nonzero/True on the object, the image's size in pixels.
        source: where the mask came from (named in errors), e.g. its PNG file.

    Raises:
        MaskError: the mask is not 2-D, differs in size from the image (both sizes are
            named, W x H), or is empty.
        NotFound: no such image.
    """
    image_id = int(image_id)
    blob = None
    what = f"mask {source}" if source is not None else "the mask"
    if mask is not None:
        mask = np.asarray(mask)
        if mask.ndim != 2:
            raise MaskError(f"{what} must be a 2-D (H, W) array, got shape {mask.shape}")
        mask = mask != 0
        if not mask.any():
            raise MaskError(f"{what} is empty (no foreground pixel)")
        blob = encode_mask_png(mask)

    def op(s: Session) -> None:
        row = s.execute(select(Image.name, Image.width, Image.height)
                        .where(Image.id == image_id)).first()
        if row is None:
            raise NotFound(f"No image {image_id} in project {store.target}")
        if mask is not None and mask.shape != (row.height, row.width):
            raise MaskError(f"{what} is {mask.shape[1]} x {mask.shape[0]} pixels but image "
                            f"{row.name!r} is {row.width} x {row.height} (W x H)")
        s.execute(update(Image).where(Image.id == image_id).values(mask=blob))

    store.write(op)


def set_mask_from_png(store: ProjectStore, image_id: int, path: str | Path) -> np.ndarray:
    """Read a mask PNG (see :func:`core.masks.mask_from_png`) and store it; errors name the
    file. Returns the stored (H, W) bool mask."""
    mask = mask_from_png(path)
    set_mask(store, image_id, mask, source=path)
    return mask


def get_mask(store: ProjectStore, image_id: int) -> np.ndarray | None:
    """The image's (H, W) bool mask (True on the object), or None when it has none."""
    with store.session() as s:
        row = s.execute(select(Image.mask, Image.name).where(Image.id == int(image_id))).first()
    if row is None:
        raise NotFound(f"No image {image_id} in project {store.target}")
    if row.mask is None:
        return None
    return decode_mask_png(bytes(row.mask), f"mask of image {row.name!r} (id {image_id})")


# ------------------------------------------------------------------------------ camera
def set_camera(store: ProjectStore, image_id: int, camera: dict | None) -> None:
    """Store the image's ground-truth camera (a JSON-serializable dict, kept as given), or
    remove it with None.

    Raises:
        ValueError: ``camera`` is not a dict or not JSON (e.g. NaN, arrays, objects).
        NotFound: no such image.
    """
    image_id = int(image_id)
    text = None
    if camera is not None:
        if not isinstance(camera, dict):
            raise ValueError(f"A camera is a dict, got {type(camera).__name__}")
        try:
            text = json.dumps(camera, allow_nan=False, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"The camera cannot be stored as JSON: {exc}") from exc

    def op(s: Session) -> None:
        result = s.execute(update(Image).where(Image.id == image_id).values(camera_json=text))
        if result.rowcount != 1:
            raise NotFound(f"No image {image_id} in project {store.target}")

    store.write(op)


def get_camera(store: ProjectStore, image_id: int) -> dict | None:
    """The image's ground-truth camera dict, or None when it has none."""
    with store.session() as s:
        row = s.execute(select(Image.camera_json).where(Image.id == int(image_id))).first()
    if row is None:
        raise NotFound(f"No image {image_id} in project {store.target}")
    return None if row.camera_json is None else json.loads(row.camera_json)


# --------------------------------------------------------------------------- keypoints
def set_image_keypoint(store: ProjectStore, image_id: int, set_id: int, x: float | None,
                       y: float | None, state: ImagePointState | str = ImagePointState.visible,
                       *, annotator: str | None = None,
                       expected_version: int | None = None) -> ImageKeypointRecord:
    """Place (or mark occluded/absent) a correspondence set's point on an image.

    Args:
        x, y: pixels (x right, y down, origin at the top-left corner); None for ``absent``.
        state: ``visible`` (inside the image), ``occluded`` (may be outside) or ``absent``.
        annotator: who edits (name). When given, only the set's owner or an admin may
            change it, and the point records the annotator; None (importers) checks nothing.
        expected_version: the version of the point being replaced; required when the image
            already holds a point of this set.

    Returns:
        The stored point (version 1 when new, else the old version + 1).

    Raises:
        ValueError: bad state or position, or a set of another category.
        ConflictError: a point exists and ``expected_version`` is missing or stale
            (``.current`` is the stored point, or None when it was deleted).
        PermissionDenied, NotFound: as for 3D keypoints.
    """
    image_id, set_id = int(image_id), int(set_id)
    state = _state(state)
    if state is ImagePointState.absent:
        if x is not None or y is not None:
            raise ValueError("an absent point has no position: pass x=None, y=None")
    elif x is None or y is None or not (math.isfinite(float(x)) and math.isfinite(float(y))):
        raise ValueError(f"a {state.value} point needs finite pixel coordinates "
                         f"(got x={x}, y={y})")
    editor = _editor(store, annotator)

    def op(s: Session) -> ImageKeypointRecord:
        img = s.execute(select(Image.id, Image.name, Image.category_id, Image.width,
                               Image.height).where(Image.id == image_id)).first()
        if img is None:
            raise NotFound(f"No image {image_id} in project {store.target}")
        if editor is not None:
            cset = editor._require_set_owner(s, set_id)
        else:
            cset = s.get(CorrespondenceSet, set_id)
            if cset is None:
                raise NotFound(f"No correspondence set {set_id} in project {store.target}")
        if cset.category_id != img.category_id:
            names = dict(s.execute(select(Category.id, Category.name).where(
                Category.id.in_([cset.category_id, img.category_id]))).all())
            raise ValueError(f"set {set_id} belongs to category {names[cset.category_id]!r}, "
                             f"image {img.name!r} to {names[img.category_id]!r}")
        if state is ImagePointState.visible and not (
                0.0 <= float(x) <= img.width and 0.0 <= float(y) <= img.height):
            raise ValueError(f"a visible point lies inside image {img.name!r}: 0 <= x <= "
                             f"{img.width}, 0 <= y <= {img.height} (got x={x}, y={y}); mark "
                             "it occluded if it is outside the frame")
        values = dict(x=None if x is None else float(x), y=None if y is None else float(y),
                      state=state.value, annotator_id=editor.actor.id if editor else None,
                      updated_at=datetime.now(UTC))
        current = _point_by_image_set(s, image_id, set_id)
        if current is None:
            if expected_version is not None:
                raise ConflictError(f"Set {set_id} on image {img.name!r} has no point any more "
                                    "(someone deleted it)", None)
            new_id = s.execute(insert(_IKP).values(image_id=image_id, set_id=set_id,
                                                   version=1, **values)
                               .returning(_IKP.c.id)).scalar_one()
            return _point_by_id(s, new_id)
        _expect(current, expected_version, img.name)
        result = s.execute(update(_IKP).where(_IKP.c.id == current.id,
                                              _IKP.c.version == current.version)
                           .values(version=current.version + 1, **values))
        if result.rowcount != 1:
            raise ConflictError(f"Point {current.id} was changed by someone else meanwhile",
                                _point_by_id(s, current.id, missing_ok=True))
        return _point_by_id(s, current.id)

    return store.write(op)


def image_keypoints(store: ProjectStore, image_id: int) -> list[ImageKeypointRecord]:
    """Every 2D point of an image (all states), ordered by set id. Raises NotFound."""
    with store.session() as s:
        if s.get(Image, int(image_id)) is None:
            raise NotFound(f"No image {image_id} in project {store.target}")
        rows = s.execute(select(_IKP).where(_IKP.c.image_id == int(image_id))
                         .order_by(_IKP.c.set_id)).all()
        return [_record(r) for r in rows]


def delete_image_keypoint(store: ProjectStore, keypoint_id: int, expected_version: int,
                          *, annotator: str | None = None) -> ImageKeypointRecord:
    """Delete a 2D point; returns what was deleted.

    Raises:
        ConflictError: the point is gone or changed since ``expected_version``.
        PermissionDenied: ``annotator`` may not change the point's set.
    """
    keypoint_id = int(keypoint_id)
    editor = _editor(store, annotator)

    def op(s: Session) -> ImageKeypointRecord:
        current = _point_by_id(s, keypoint_id)
        if editor is not None:
            editor._require_set_owner(s, current.set_id)
        _expect(current, expected_version, f"id {current.image_id}")
        result = s.execute(delete(_IKP).where(_IKP.c.id == keypoint_id,
                                              _IKP.c.version == current.version))
        if result.rowcount != 1:
            raise ConflictError(f"Point {keypoint_id} was changed by someone else meanwhile",
                                _point_by_id(s, keypoint_id, missing_ok=True))
        return current

    return store.write(op)


# ----------------------------------------------------------------------------- helpers
def _read_limited(path: Path) -> bytes:
    if path.is_file():
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImageError(f"{path}: file too large ({size / 2**20:,.0f} MiB; the limit is "
                             f"{MAX_FILE_BYTES / 2**20:,.0f} MiB)")
    return read_image_bytes(path)


def _category(s: Session, category: str | int) -> Category:
    stmt = select(Category).where(
        Category.id == category if isinstance(category, int) else Category.name == category)
    cat = s.scalars(stmt).first()
    if cat is None:
        raise NotFound(f"No category {category!r} in this project")
    return cat


def _info(s: Session, image_id: int) -> ImageInfo:
    row = s.execute(
        select(Image.id, Category.name, Image.name, Image.source_path, Image.sha256,
               Image.format, Image.width, Image.height, Image.mask.is_not(None),
               Image.camera_json.is_not(None), Image.created_at)
        .join(Category, Category.id == Image.category_id).where(Image.id == image_id)).first()
    if row is None:
        raise NotFound(f"No image {image_id} in this project")
    return ImageInfo(*row[:8], bool(row[8]), bool(row[9]), _utc(row[10]))


def _utc(value: datetime) -> datetime:
    """Timezone-aware UTC (SQLite hands back naive UTC times, PostgreSQL aware ones)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _state(state: ImagePointState | str) -> ImagePointState:
    try:
        return ImagePointState(state)
    except ValueError:
        raise ValueError(f"a point's state is visible, occluded or absent (got {state!r})") \
            from None


def _editor(store: ProjectStore, annotator: str | None) -> KeypointEditor | None:
    """The annotator's editor (its permission rules are those of 3D keypoints), or None."""
    return None if annotator is None else KeypointEditor(store, annotator)


def _record(row) -> ImageKeypointRecord:
    m = row._mapping
    return ImageKeypointRecord(id=m["id"], image_id=m["image_id"], set_id=m["set_id"],
                               x=m["x"], y=m["y"], state=str(m["state"]),
                               annotator_id=m["annotator_id"], version=m["version"],
                               updated_at=_utc(m["updated_at"]))


def _point_by_id(s: Session, keypoint_id: int,
                 missing_ok: bool = False) -> ImageKeypointRecord | None:
    row = s.execute(select(_IKP).where(_IKP.c.id == keypoint_id)).first()
    if row is None:
        if missing_ok:
            return None
        raise ConflictError(f"Image point {keypoint_id} no longer exists (deleted by someone "
                            "else)")
    return _record(row)


def _point_by_image_set(s: Session, image_id: int, set_id: int) -> ImageKeypointRecord | None:
    row = s.execute(select(_IKP).where(_IKP.c.image_id == image_id,
                                       _IKP.c.set_id == set_id)).first()
    return None if row is None else _record(row)


def _expect(current: ImageKeypointRecord, expected_version: int | None, image: str) -> None:
    if expected_version is None:
        raise ConflictError(f"Set {current.set_id} on image {image!r} already has a point "
                            f"(version {current.version}); pass expected_version to change it",
                            current)
    if current.version != expected_version:
        raise ConflictError(f"Image point {current.id} was changed by someone else (now version "
                            f"{current.version}, you edited version {expected_version})",
                            current)


__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DuplicateImage",
    "IMAGE_FORMATS",
    "MAX_FILE_BYTES",
    "add_image",
    "delete_image",
    "delete_image_keypoint",
    "get_camera",
    "get_image",
    "get_mask",
    "image_data",
    "image_info",
    "image_keypoints",
    "list_images",
    "mask_from_png",
    "set_camera",
    "set_image_keypoint",
    "set_mask",
    "set_mask_from_png",
]
