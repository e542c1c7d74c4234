#!/usr/bin/env bash
# Set up everything (first time) and open CorrStudio on the demo project.
# Extra arguments go to the `corrstudio` command, e.g. --project P or --screenshot s.png.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh" runtime
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "[corrstudio] no display found: running on a virtual X server (xvfb-run)." >&2
  echo "[corrstudio] the window is invisible there; use --screenshot out.png to see it." >&2
  exec xvfb-run -a -s "-screen 0 1600x1000x24" corrstudio "$@"
fi
exec corrstudio "$@"
