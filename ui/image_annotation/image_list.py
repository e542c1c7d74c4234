"""The project images of the shown model's category: listed off the GUI thread whenever a
model of another category (or another project) is shown, stepped through with next and
previous, and added to the project from files."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Signal

from core.model_scene import ModelScene
from core.store import ProjectStore
from core.store.image_store import DuplicateImage, add_image, list_images
from core.store.records import ImageInfo
from ui.error_reporter import ErrorReporter
from ui.project_controller import ProjectController
from ui.workers import start_kept


class ImageList(QObject):
    """The category's images (:class:`ImageInfo`, sorted by name), kept up to date."""

    listed = Signal(str, list)  # category, list[ImageInfo]

    def __init__(self, project: ProjectController, errors: ErrorReporter,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.errors = errors
        self.category: str | None = None
        self.images: list[ImageInfo] = []
        self._workers: list = []
        self._serial = 0  # counts listings: only the latest one is kept
        project.model_loaded.connect(self._on_model)
        project.project_opened.connect(lambda _t: self._set("", []))

    def refresh(self, category: str | None = None) -> None:
        """List ``category``'s images (default: the current one) off the GUI thread."""
        category = category or self.category or self.project.selection.model[0]
        store = self.project.store
        if store is None or not category:
            return
        self._serial += 1
        serial = self._serial

        def current() -> bool:  # the latest listing, of this project
            return serial == self._serial and store is self.project.store

        self._start(list_images, store, category,
                    on_done=lambda images: self._set(category, images) if current() else None,
                    on_error=lambda exc: self.errors.report("Cannot list images", str(exc))
                    if current() else None)

    def neighbour(self, image_id: int | None, delta: int) -> ImageInfo | None:
        """The image ``delta`` steps after ``image_id`` (wrapping; the first or last one
        when ``image_id`` is not listed), None when there are none."""
        if not self.images:
            return None
        ids = [i.id for i in self.images]
        if image_id in ids:
            return self.images[(ids.index(image_id) + delta) % len(ids)]
        return self.images[0 if delta >= 0 else -1]

    def add_files(self, paths: Sequence[str],
                  on_added: Callable[[list[ImageInfo]], None] | None = None) -> None:
        """Import PNG/JPEG files into the current category (off the GUI thread); a file
        already there counts as added. Errors name each refused file; ``on_added`` gets
        the images added (or found), then the list is re-read."""
        store, category = self.project.store, self.category or self.project.selection.model[0]
        if store is None or not category:
            self.errors.report("Cannot add images", "Open a project and show a model of the "
                               "category the images belong to first.")
            return

        def run() -> tuple[list[ImageInfo], list[str]]:
            return _add_all(store, category, paths)

        def done(result: tuple[list[ImageInfo], list[str]]) -> None:
            added, problems = result
            if problems:
                self.errors.report(f"Some images were not added to {category}",
                                   "\n".join(problems))
            self.refresh(category)
            if on_added is not None and added:
                on_added(added)

        self._start(run, on_done=done,
                    on_error=lambda exc: self.errors.report("Cannot add images", str(exc)))

    # ---------------------------------------------------------------- helpers
    def _on_model(self, scene: ModelScene) -> None:
        if scene.info.category != self.category:
            self.refresh(scene.info.category)

    def _set(self, category: str, images: list[ImageInfo]) -> None:
        self.category = category or None
        self.images = list(images)
        self.listed.emit(category, list(images))

    def _start(self, fn, *args, on_done=None, on_error=None):
        return start_kept(self._workers, fn, *args, on_done=on_done, on_error=on_error)


def _add_all(store: ProjectStore, category: str,
             paths: Sequence[str]) -> tuple[list[ImageInfo], list[str]]:
    """Add each file; returns (images added or already there, one problem line per file)."""
    added, problems = [], []
    for path in paths:
        try:
            added.append(add_image(store, category, path))
        except DuplicateImage as exc:
            added.append(exc.existing)
        except Exception as exc:  # named per file; the others are still added
            problems.append(str(exc))
    return added, problems


__all__ = ["ImageList"]
