"""Put 2D keypoint annotation on a main window's Image dock.

:func:`install_image_annotation` needs a built :class:`ui.main_window.MainWindow` (its
project and annotation controllers, error reporter, image view and Annotate menu) and adds
Annotate > Image points:

- Open image ▸ (the shown model's category's project images), Next image (``]``),
  Previous image (``[``), Add images to project...;
- Mark visible (``V``), Mark occluded (``O``), Mark absent (``A``), Delete image point
  (``Shift+Del``, ``Backspace``): these act on the current set's point while the image
  view has the focus (from the menu, always); the same entries are a marker's right-click
  menu.

On the image: a click places the current set's point (visible), a drag moves a point, a
click on a point makes its set current. Sets keys (1-8, Q-I) and Edit > Undo/Redo are the
3D workspace's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu

from core.store.records import ImageInfo
from ui.actions import CloseWatcher, find_menu, new_action
from ui.image_annotation.controller import ImageAnnotationController
from ui.image_annotation.image_list import ImageList
from ui.image_annotation.legend import ImageLegend
from ui.image_annotation.markers import MarkerLayer
from ui.image_annotation.records import ABSENT, OCCLUDED, VISIBLE, ImagePoint

_INSTALLED = "_corrstudio_image_annotation_ui"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg);;All files (*)"


@dataclass(eq=False)
class ImageAnnotationUi:
    """What :func:`install_image_annotation` added to the window."""

    window: QMainWindow
    controller: ImageAnnotationController
    images: ImageList
    markers: MarkerLayer
    legend: ImageLegend
    menu: QMenu
    open_menu: QMenu
    actions: dict[str, QAction] = field(default_factory=dict)
    context_menu: QMenu | None = None  # the last marker menu shown
    close_watcher: QObject | None = None
    _showing: bool = False

    # ----------------------------------------------------------------- images
    def show_image(self, info: ImageInfo, rgb: np.ndarray) -> None:
        """Show a loaded project image in the Image dock and annotate it."""
        view = self.window.image_view
        self._showing = True
        try:
            view.show_rgb(rgb, "")  # no file path: the Pose dock lists project images itself
        finally:
            self._showing = False
        self.window.image_dock.show()
        self.window.image_dock.raise_()
        self.controller.set_image(info)

    def open_image(self, image_id: int) -> None:
        self.controller.open_image(image_id)

    def step_image(self, delta: int) -> None:
        """Open the next (``delta`` 1) or previous (-1) image of the category."""
        current = self.controller.image.id if self.controller.image is not None else None
        target = self.images.neighbour(current, delta)
        if target is None:
            category = self.images.category or "this category"
            self.window.statusBar().showMessage(f"No project images in {category} (Annotate "
                                                "> Image points > Add images to project)", 5000)
            return
        self.open_image(target.id)

    def add_images_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self.window, "Add images to the project", "",
                                                IMAGE_FILTER)
        if paths:
            self.images.add_files(paths, on_added=lambda added: self.open_image(added[0].id))

    def rebuild_open_menu(self) -> None:
        """The Open image submenu: one entry per image of the category."""
        menu = self.open_menu
        menu.clear()
        current = self.controller.image.id if self.controller.image is not None else None
        if not self.images.images:
            empty = menu.addAction(f"No images in {self.images.category or 'this category'}")
            empty.setEnabled(False)
            return
        for info in self.images.images:
            action = menu.addAction(f"{info.name}  ({info.width} x {info.height})")
            action.setObjectName(f"actionOpenImage_{info.id}")
            action.setCheckable(True)
            action.setChecked(info.id == current)
            action.triggered.connect(lambda _=False, i=info.id: self.open_image(i))

    # ----------------------------------------------------------------- points
    def point_menu(self, set_id: int) -> QMenu | None:
        """The right-click menu of a drawn point (its set becomes current)."""
        point = self.controller.point_of_set_id(set_id)
        if point is None:
            return None
        self.window.annotation.select_set(point.number)
        menu = QMenu(f"Point {point.number + 1}", self.window.image_view)
        menu.setObjectName("imagePointMenu")
        title = menu.addAction(f"Point {point.number + 1} ({point.state})")
        title.setEnabled(False)
        menu.addSeparator()
        for key in ("actionImageVisible", "actionImageOccluded", "actionImageAbsent"):
            menu.addAction(self.actions[key])
        menu.addSeparator()
        menu.addAction(self.actions["actionImageDelete"])
        return menu

    def _context(self, set_id: int, where: QPoint) -> None:
        menu = self.point_menu(set_id)
        if menu is not None:
            if self.context_menu is not None:
                self.context_menu.deleteLater()
            self.context_menu = menu
            menu.popup(where)

    def _point_clicked(self, point: ImagePoint) -> None:
        self.window.annotation.select_set(point.number)
        self.window.statusBar().showMessage(f"Image point {point.number + 1} selected "
                                            f"({point.state})", 5000)

    def _background_clicked(self, x: float, y: float) -> None:
        if self.controller.image is not None:  # a file shown by File > Import: no points
            self.controller.place_at(x, y)

    def _image_shown(self, _path: str) -> None:
        if not self._showing:  # another image replaced ours
            self.controller.set_image(None)

    def _redraw(self, points: list[ImagePoint]) -> None:
        image = self.controller.image
        self.markers.show_points(points, None if image is None else (image.width,
                                                                    image.height))
        self.legend.set_points(points, self.window.annotation.annotator)

    def _current_set(self, number: int) -> None:
        self.markers.set_current(number)
        self.legend.set_current(number)

    def shutdown(self) -> None:
        self.markers.close()
        self.controller.shutdown()


def install_image_annotation(window) -> ImageAnnotationUi:
    """Add 2D keypoint annotation to ``window`` (once: a second call returns what the
    first one added)."""
    existing = getattr(window, _INSTALLED, None)
    if isinstance(existing, ImageAnnotationUi):
        return existing
    annotation, view, bar = window.annotation, window.image_view, window.statusBar()
    controller = ImageAnnotationController(window.controller, annotation, window.errors, window)
    images = ImageList(window.controller, window.errors, window)
    markers = MarkerLayer(view, window)
    legend = ImageLegend(view)

    annotate = find_menu(window, "annotateMenu", "&Annotate")
    annotate.addSeparator()
    menu = annotate.addMenu("&Image points")
    menu.setObjectName("imagePointsMenu")
    open_menu = menu.addMenu("&Open image")
    open_menu.setObjectName("imageOpenMenu")
    ui = ImageAnnotationUi(window, controller, images, markers, legend, menu, open_menu)

    def image_action(text, slot, keys, tip, name) -> QAction:
        action = new_action(window, text, slot, None, tip, name)
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        view.addAction(action)  # the keys work while the image view has the focus
        return action

    actions = [
        new_action(window, "&Next image", lambda: ui.step_image(1), "]",
                   "Open the next project image of the category", "actionNextImage"),
        new_action(window, "&Previous image", lambda: ui.step_image(-1), "[",
                   "Open the previous project image of the category", "actionPreviousImage"),
        new_action(window, "&Add images to project...", ui.add_images_dialog, None,
                   "Import PNG/JPEG files into the shown model's category",
                   "actionAddProjectImages"),
        image_action("Mark &visible", lambda: controller.set_state(VISIBLE), ["V"],
                     "The current set's image point is seen", "actionImageVisible"),
        image_action("Mark &occluded", lambda: controller.set_state(OCCLUDED), ["O"],
                     "The current set's image point is hidden (drawn hollow)",
                     "actionImageOccluded"),
        image_action("Mark a&bsent", lambda: controller.set_state(ABSENT), ["A"],
                     "The current set's part is not in this image (no position)",
                     "actionImageAbsent"),
        image_action("&Delete image point", controller.delete_current,
                     ["Shift+Del", "Backspace"],
                     "Remove the current set's point from this image", "actionImageDelete"),
    ]
    ui.actions.update({a.objectName(): a for a in actions})
    menu.addActions(actions[:3])
    menu.addSeparator()
    menu.addActions(actions[3:])

    open_menu.aboutToShow.connect(ui.rebuild_open_menu)
    images.listed.connect(lambda _c, _i: ui.rebuild_open_menu())
    controller.image_loaded.connect(ui.show_image)
    controller.image_changed.connect(legend.set_image)
    controller.points_changed.connect(ui._redraw)
    controller.status.connect(lambda m: bar.showMessage(m, 5000))
    annotation.current_set_changed.connect(ui._current_set)
    markers.background_clicked.connect(ui._background_clicked)
    markers.point_clicked.connect(ui._point_clicked)
    markers.moved.connect(controller.move_point)
    markers.context_requested.connect(ui._context)
    view.image_shown.connect(ui._image_shown)
    ui._current_set(annotation.current_set)
    ui.rebuild_open_menu()
    ui.close_watcher = CloseWatcher(window, ui.shutdown)
    setattr(window, _INSTALLED, ui)
    return ui


__all__ = ["ImageAnnotationUi", "install_image_annotation"]
