"""Shared fixtures: isolated data/settings folders, a demo project built once per run,
and the folder where tests keep screenshots for people to look at."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def pytest_configure(config) -> None:
    # Never touch the user's real data or settings from tests.
    base = Path(os.environ.get("PYTEST_CORRSTUDIO_TMP", "/tmp")) / f"corrstudio-tests-{os.getpid()}"
    os.environ.setdefault("CORRSTUDIO_DATA_DIR", str(base / "data"))
    os.environ.setdefault("CORRSTUDIO_SETTINGS_DIR", str(base / "settings"))
    os.environ.setdefault("QT_API", "pyside6")
    from app.qt_platform import choose_platform

    choose_platform(os.environ)  # the native 3D views need X11 (XWayland on Wayland)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Folder kept after the run (``test-artifacts/`` under packaging/test.sh)."""
    path = Path(os.environ.get("CORRSTUDIO_TEST_ARTIFACTS", REPO / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory) -> Path:
    """The full demo project (3 categories x 24 models), built once per test run."""
    from core.demo.build_project import build_demo_project

    return build_demo_project(tmp_path_factory.mktemp("demo") / "demo")


@pytest.fixture(scope="session")
def keypointnet_sample() -> Path:
    """The real KeypointNet chair in ../shared (skips when that folder is absent)."""
    path = SHARED / "data" / "keypointnet-sample"
    if not path.is_dir():
        pytest.skip(f"KeypointNet sample not found at {path} (../shared is absent)")
    return path
