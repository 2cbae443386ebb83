#!/usr/bin/env bash
# Install handtrack's Python dependencies into the current Python 3.11 environment.
# Safe to rerun: pip skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
OPENCV=opencv-python==5.0.0.93
"$PY" -m pip install -q --disable-pip-version-check -r requirements.txt
# tf-models-official depends on the headless OpenCV build; keep exactly one cv2,
# the GUI build, so --display 1 can open a window.
if "$PY" -m pip show -q opencv-python-headless >/dev/null 2>&1; then
  "$PY" -m pip uninstall -q -y opencv-python-headless
  "$PY" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall "$OPENCV"
fi
"$PY" -m pip install -q --disable-pip-version-check --no-deps "$OPENCV"
"$PY" - <<'PY'
import cv2, tensorflow as tf
gui = [l for l in cv2.getBuildInformation().splitlines() if l.strip().startswith("GUI:")]
print(f"handtrack deps ok: tensorflow {tf.__version__}, opencv {cv2.__version__} ({gui[0].split(':')[1].strip() if gui else '?'})")
PY
