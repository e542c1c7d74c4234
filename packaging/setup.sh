#!/usr/bin/env bash
# Shared set-up for run.sh and test.sh: system packages, the project's virtual
# environment (.venv) and the editable install. Idempotent: a second run only
# checks, and reinstalls Python packages only when pyproject.toml or the
# constraints file changed.
#
# Usage: source packaging/setup.sh [runtime|dev]
set -euo pipefail

CS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CS_PROFILE="${1:-runtime}"
CS_VENV="$CS_ROOT/.venv"

# Debian packages: a virtual X server with Mesa GL for VTK, and the xcb libraries Qt loads.
CS_APT_GUI=(xvfb xauth libgl1-mesa-dri libegl1 libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4
            libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0
            libxcb-image0 libxrender1 libxi6 libsm6 libfontconfig1 libdbus-1-3)
# PostgreSQL server for the team-server store tests (dev only).
CS_APT_DEV=(postgresql)

cs_say() { printf '[corrstudio setup] %s\n' "$*" >&2; }

cs_find_python() {
  local cand
  for cand in "${CORRSTUDIO_PYTHON:-}" python3.11 python3; do
    [ -n "$cand" ] || continue
    if command -v "$cand" >/dev/null 2>&1 &&
       "$cand" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
      command -v "$cand"; return 0
    fi
  done
  return 1
}

cs_apt_missing() {
  local pkg missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  printf '%s\n' "${missing[@]}"
}

cs_install_system() {
  local wanted=("${CS_APT_GUI[@]}")
  [ "$CS_PROFILE" = dev ] && wanted+=("${CS_APT_DEV[@]}")
  if ! command -v dpkg-query >/dev/null 2>&1; then
    cs_say "not a Debian system: make sure Xvfb, Mesa GL and the xcb libraries are installed."
    return 0
  fi
  mapfile -t missing < <(cs_apt_missing "${wanted[@]}")
  [ "${#missing[@]}" -eq 0 ] || [ -z "${missing[0]}" ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    cs_say "missing system packages: ${missing[*]}"
    cs_say "run as root, or install them first:  sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
  cs_say "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

cs_install_python() {
  local py stamp want
  py="$(cs_find_python)" || { cs_say "Python 3.11 is required (python3.11 not found)"; exit 1; }
  if [ ! -x "$CS_VENV/bin/python" ]; then
    cs_say "creating virtual environment $CS_VENV"
    "$py" -m venv "$CS_VENV"
  fi
  stamp="$CS_VENV/.corrstudio-installed"
  want="$CS_PROFILE $(cat "$CS_ROOT/pyproject.toml" "$CS_ROOT/packaging/constraints.txt" | sha256sum | cut -c1-32)"
  if [ -f "$stamp" ] && { [ "$(cat "$stamp")" = "$want" ] ||
       { [ "$CS_PROFILE" = runtime ] && grep -q "^dev ${want#runtime }$" "$stamp"; }; }; then
    return 0
  fi
  local extra=""
  [ "$CS_PROFILE" = dev ] && extra="[dev]"
  cs_say "installing CorrStudio and its pinned dependencies into .venv (first time: a few minutes)"
  "$CS_VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$CS_VENV/bin/python" -m pip install -q -c "$CS_ROOT/packaging/constraints.txt" -e "$CS_ROOT$extra"
  echo "$want" > "$stamp"
}

cs_install_system
cs_install_python
export QT_API=pyside6
export PATH="$CS_VENV/bin:$PATH"
