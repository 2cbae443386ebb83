"""Where processed frames go: a window, an annotated video, JSON lines.

One `Outputs` object serves both engines (single- and multi-threaded) so they
behave identically. All of it runs on the main thread: HighGUI windows must be
driven from one thread, and results arrive here already in frame order.

Files are written under a temporary name beside the target and renamed into
place when the run ends (also after q/Esc/Ctrl-C, since what was processed is
still a valid result); a crash leaves no half-written file under the final name.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any, Callable, Sequence

import cv2
import numpy as np

from common.atomic import publish, temp_file_beside
from common.errors import UserError
from detect.detections import Detections
from detect.drawing import draw_detections, draw_fps, draw_hands

WINDOW = "handtrack"
QUIT_KEYS = {ord("q"), ord("Q"), 27}  # q, Esc


_display_checked = False


def check_display() -> None:
    """Raise UserError (suggesting --display 0) when no window can be opened.

    On Linux without DISPLAY/WAYLAND_DISPLAY Qt would abort the whole process
    (not raise), and with a DISPLAY that points nowhere it aborts too, so the
    window is probed in a child process first.
    """
    global _display_checked
    if _display_checked:
        return
    hint = "; use --display 0 (with --output/--json to keep the results)"
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        raise UserError("--display 1 needs a screen, but neither DISPLAY nor "
                        f"WAYLAND_DISPLAY is set{hint}")
    if sys.platform.startswith("linux"):
        probe = "import cv2; cv2.namedWindow('probe'); cv2.waitKey(1); cv2.destroyAllWindows()"
        try:
            r = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=20)
            ok = r.returncode == 0
        except subprocess.TimeoutExpired:
            ok = False
        if not ok:
            raise UserError(f"--display 1: cannot open a window on this screen{hint}")
    _display_checked = True


def _temp_beside(final: Path, flag: str) -> Path:
    """A temp file next to `final`; any OS error (read-only, missing permission, a
    parent that is a file) is one UserError naming the flag, before any frame is read."""
    try:
        return temp_file_beside(final, suffix=final.suffix or ".tmp")
    except OSError as exc:
        raise UserError(f"{flag} {final}: cannot write there ({exc.strerror or exc})") from None


def check_output_paths(output: str | None, json_path: str | None) -> None:
    """Refuse --output/--json targets that are folders before the model loads; the
    files themselves are created (and writability proven) by `Outputs`."""
    for flag, value in (("--output", output), ("--json", json_path)):
        if value and value != "-" and Path(value).is_dir():
            raise UserError(f"{flag} {value} is a folder; give a file name")


class Outputs:
    """Display / annotated video / JSON lines for processed frames, in frame order.

    json_path '-' writes JSON lines to stdout (the CLIs then send human output
    to stderr).
    """

    def __init__(self, *, display: bool = False, output: str | None = None,
                 json_path: str | None = None, size: tuple[int, int] = (320, 240),
                 fps: float | None = None) -> None:
        self.display = display
        self._window_open = False
        self._writer: cv2.VideoWriter | None = None
        self._json: IO[str] | None = None
        self._pending: list[tuple[Path, Path]] = []  # (tmp, final) renamed on close
        self._closed = False
        # frame index -> source file name (image folders), added to each JSON line
        self.frame_name: Callable[[int], str | None] | None = None
        try:
            if display:
                check_display()
                try:
                    cv2.namedWindow(WINDOW, cv2.WINDOW_AUTOSIZE)
                except cv2.error as exc:
                    raise UserError(f"--display 1: cannot open a window ({exc.msg.strip()}); "
                                    "use --display 0") from None
                self._window_open = True
            if output:
                final = Path(output)
                if final.is_dir():
                    raise UserError(f"--output {output} is a folder; give a video file name")
                tmp = _temp_beside(final, "--output")
                self._writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"),
                                               float(fps or 30.0), size)
                if not self._writer.isOpened():
                    tmp.unlink(missing_ok=True)
                    raise UserError(f"--output {output}: cannot write a video there "
                                    "(use a .mp4 or .avi name)")
                self._pending.append((tmp, final))
            if json_path == "-":
                self._json = sys.stdout
            elif json_path:
                final = Path(json_path)
                if final.is_dir():
                    raise UserError(f"--json {json_path} is a folder; give a file name")
                tmp = _temp_beside(final, "--json")
                self._json = open(tmp, "w")
                self._pending.append((tmp, final))
        except BaseException:
            self.close(keep=False)
            raise

    @property
    def draws(self) -> bool:
        return self._window_open or self._writer is not None

    def emit(self, index: int, timestamp: float, frame: np.ndarray, dets: Detections,
             fps: float, hands: Sequence[Any] | None = None) -> None:
        """Handle one processed frame (annotating `frame` in place if shown/written).

        hands: tracked hands (detect.tracking) when tracking is on: drawn instead
        of the raw boxes, and added to the JSON line as "hands".
        """
        if self._json is not None:
            rec = {"frame": index, "timestamp": round(timestamp, 4), **dets.to_json()}
            name = self.frame_name(index) if self.frame_name is not None else None
            if name is not None:
                rec["file"] = name
            if hands is not None:
                rec["hands"] = [h.to_json() for h in hands]
            self._json.write(json.dumps(rec) + "\n")
            if self._json is sys.stdout:
                self._json.flush()
        if self.draws:
            if hands is not None:
                draw_hands(frame, hands)
            else:
                draw_detections(frame, dets)
            draw_fps(frame, fps)
            if self._writer is not None:
                self._writer.write(frame)
            if self._window_open:
                cv2.imshow(WINDOW, frame)

    def poll_quit(self) -> bool:
        """Pump the window's events; True when the user pressed q or Esc."""
        if not self._window_open:
            return False
        key = cv2.waitKey(1) & 0xFF
        return key in QUIT_KEYS

    def close(self, keep: bool = True) -> None:
        """Finish files (rename into place if keep, else delete) and close the window."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._writer.release()
        if self._json is not None and self._json is not sys.stdout:
            self._json.close()
        for tmp, final in self._pending:
            if keep:
                publish(tmp, final)
            else:
                tmp.unlink(missing_ok=True)
        if self._window_open:
            cv2.destroyWindow(WINDOW)
            cv2.waitKey(1)
