"""core stays headless: importing every core module loads no Qt, VTK or pyvista."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import core
from tests.conftest import REPO


def _core_modules() -> list[str]:
    names = ["core"]
    for info in pkgutil.walk_packages(core.__path__, prefix="core."):
        if ".migrations" in info.name:
            continue  # Alembic scripts run inside Alembic, not importable alone
        names.append(info.name)
    return names


def test_core_has_submodules_to_check():
    mods = _core_modules()
    expected = {"core.store.project_store", "core.demo.build_project", "core.geometry.mesh"}
    assert expected <= set(mods)


def test_importing_all_of_core_loads_no_gui_toolkit():
    mods = _core_modules()
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'vtk', 'vtkmodules', 'pyvista', 'pyvistaqt', 'superqt', 'pyqtgraph',"
        " 'ui', 'app'))\n"
        "assert not bad, bad\n"
        "print(len(sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_importing_core_package_is_light():
    """torch and pytorch3d are imported lazily, not by ``import core``."""
    code = ("import sys, core; "
            "print(','.join(m for m in ('torch', 'pytorch3d') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
