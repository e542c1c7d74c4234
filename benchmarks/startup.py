"""Startup: ``import core`` and time to the first painted main window on the demo project.

Baselines in the same run: ``import torch`` (what an eager engine import would
cost) and a bare PySide6 window's first paint in a fresh process.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.table import Row

REPO = Path(__file__).resolve().parents[1]

_BARE_WINDOW = r"""
import sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
class F(QObject):
    def eventFilter(self, o, e):
        if e.type() == QEvent.Type.Paint:
            print(f"corrstudio-timing first-paint {time.time():.6f}", file=sys.stderr, flush=True)
            QTimer.singleShot(0, app.quit)
        return False
app = QApplication(sys.argv[:1]); w = QMainWindow(); f = F(); w.installEventFilter(f)
w.resize(1280, 800); w.show(); app.exec()
"""


def _import_time(module: str, repeat: int) -> float:
    code = f"import time; t=time.perf_counter(); import {module}; print(time.perf_counter()-t)"
    times = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                             text=True, check=True)
        times.append(float(out.stdout.strip()))
    return statistics.median(times)


def _timed_process(args: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run a process; return event -> seconds since launch (plus 'exit')."""
    t0 = time.time()
    out = subprocess.run(args, cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, **env, "CORRSTUDIO_TIMINGS": "1"}, timeout=300)
    t_end = time.time()
    if out.returncode != 0:
        raise RuntimeError(f"{args} failed: {out.stderr[-2000:]}")
    events = {"exit": t_end - t0}
    for line in out.stderr.splitlines():
        if line.startswith("corrstudio-timing "):
            _, name, stamp = line.split()
            events.setdefault(name, float(stamp) - t0)
    return events


def run(repeat: int = 3) -> list[Row]:
    rows = [
        Row("startup", "import core", _import_time("core", repeat), "s",
            "import torch", _import_time("torch", repeat)),
        Row("startup", "import core.store + core.demo",
            _import_time("core.store, core.demo.build_project", repeat), "s",
            "import torch, pytorch3d.structures",
            _import_time("torch, pytorch3d.structures", repeat)),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        from core.demo.build_project import build_demo_project

        t0 = time.perf_counter()
        project = build_demo_project(Path(tmp) / "demo")
        rows.append(Row("startup", "build demo project (3 x 24 models)",
                        time.perf_counter() - t0, "s"))
        env = {"CORRSTUDIO_SETTINGS_DIR": str(Path(tmp) / "settings")}
        app_runs = [_timed_process([sys.executable, "-m", "app", "--project", str(project),
                                    "--screenshot", str(Path(tmp) / "s.png")], env)
                    for _ in range(repeat)]
        bare = [_timed_process([sys.executable, "-c", _BARE_WINDOW], env) for _ in range(repeat)]
    med = lambda runs, key: statistics.median(r[key] for r in runs)  # noqa: E731
    rows += [
        Row("startup", "process start -> first painted main window", med(app_runs, "first-paint"),
            "s", "bare PySide6 QMainWindow", med(bare, "first-paint")),
        Row("startup", "process start -> demo model rendered", med(app_runs, "model-shown"), "s",
            "bare PySide6 QMainWindow", med(bare, "first-paint")),
    ]
    return rows
