"""Which Qt platform plugin the app asks for.

The 3D views are native windows drawn by VTK through GLX (pyvistaqt 0.11, chosen because the
rest of the window then repaints without OpenGL: ``packaging/constraints.txt``). GLX needs an
X server, so in a Wayland session the app runs on XWayland (Qt's ``xcb`` plugin) unless the
user chose a platform with ``QT_QPA_PLATFORM``.
"""

from __future__ import annotations

from collections.abc import MutableMapping


def choose_platform(environ: MutableMapping[str, str]) -> str | None:
    """Set ``QT_QPA_PLATFORM=xcb`` in ``environ`` for a Wayland session with an X server
    (XWayland: ``DISPLAY`` set) when no platform was chosen; returns the value set, or None
    when nothing was changed."""
    if environ.get("QT_QPA_PLATFORM"):
        return None
    wayland = environ.get("XDG_SESSION_TYPE") == "wayland" or bool(environ.get("WAYLAND_DISPLAY"))
    if wayland and environ.get("DISPLAY"):
        environ["QT_QPA_PLATFORM"] = "xcb"
        return "xcb"
    return None
