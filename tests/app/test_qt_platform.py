"""The Qt platform chosen for the native VTK windows (app.qt_platform)."""

from app.qt_platform import choose_platform


def test_wayland_session_with_xwayland_runs_on_xcb():
    env = {"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}
    assert choose_platform(env) == "xcb"
    assert env["QT_QPA_PLATFORM"] == "xcb"


def test_user_choice_and_x11_sessions_are_left_alone():
    chosen = {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland"}
    assert choose_platform(chosen) is None and chosen["QT_QPA_PLATFORM"] == "wayland"
    x11 = {"XDG_SESSION_TYPE": "x11", "DISPLAY": ":1"}
    assert choose_platform(x11) is None and "QT_QPA_PLATFORM" not in x11
    no_x_server = {"WAYLAND_DISPLAY": "wayland-0"}
    assert choose_platform(no_x_server) is None and "QT_QPA_PLATFORM" not in no_x_server
