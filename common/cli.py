"""Shared plumbing for the thin entry scripts at the repository root."""
from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
import threading
from typing import Callable, Sequence

from common.errors import UserError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143     # 128 + SIGTERM, what a shell reports for a killed job
EXIT_BROKEN_PIPE = 141    # 128 + SIGPIPE, what `yes | head -1` leaves for `yes`


class Terminated(KeyboardInterrupt):
    """SIGTERM, delivered like Ctrl-C so every `except KeyboardInterrupt` cleanup
    (save a checkpoint, keep processed outputs, print the summary) runs for it too."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def _os_error_line(exc: OSError) -> str:
    """One line naming the path and the system's reason (disk full, read-only, ...)."""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        reason += " (free some disk space and rerun)"
    where = exc.filename if exc.filename is not None else ""
    return f"{where}: {reason}" if where else reason


def quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ start-up chatter before it is imported.

    The oneDNN/CUDA banners are noise for users of a CLI; real warnings still
    reach Python logging.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname).1s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # tf-models-official logs every layer it builds through absl at INFO.
    logging.getLogger("absl").setLevel(logging.DEBUG if verbose else logging.WARNING)


def parse_command_line(parser: argparse.ArgumentParser,
                       argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse `argv` with -v/--verbose added, then quiet TensorFlow and set up logging.

    Every command opens this way, in this order: TensorFlow's environment must be
    set before its first import, which the command's own imports trigger next.
    """
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    quiet_tensorflow()
    setup_logging(args.verbose)
    return args


def _out_of_bounds(value: float, at_least: float | None, at_most: float | None) -> str | None:
    """The complaint about `value` ("must be >= 1, got 0"), or None when it is in bounds."""
    if (at_least is None or value >= at_least) and (at_most is None or value <= at_most):
        return None

    def show(v: float) -> str:
        return f"{v:g}" if isinstance(v, float) else str(v)

    if at_least is not None and at_most is not None:
        return f"must be in [{show(at_least)}, {show(at_most)}], got {show(value)}"
    if at_least is not None:
        return f"must be >= {show(at_least)}, got {show(value)}"
    return f"must be <= {show(at_most)}, got {show(value)}"


def int_at_least(minimum: int) -> Callable[[str], int]:
    """argparse `type=` for counts: argparse turns the ValueError into a usage error naming the flag."""
    def parse(text: str) -> int:
        value = int(text)
        problem = _out_of_bounds(value, minimum, None)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value
    parse.__name__ = f"integer >= {minimum}"
    return parse


def check_flag(flag: str, value: float | None, *, at_least: float | None = None,
               at_most: float | None = None) -> None:
    """Bound check after parsing, for CLIs whose every mistake is one `error: ...` line
    (a UserError through `run_main`) rather than argparse's usage text. None (unset) passes."""
    if value is None:
        return
    problem = _out_of_bounds(value, at_least, at_most)
    if problem:
        raise UserError(f"{flag} {problem}")


def parse_sizes(flag: str, text: str) -> list[tuple[int, int]]:
    """"WxH[,WxH...]" -> [(w, h), ...] with positive sizes, or one UserError naming the flag."""
    sizes = []
    for item in text.split(","):
        parts = item.strip().lower().split("x")
        try:
            w, h = (int(v) for v in parts)
        except ValueError:
            raise UserError(f"{flag}: expected WxH[,WxH...], got {text!r}") from None
        if w <= 0 or h <= 0:
            raise UserError(f"{flag}: expected WxH[,WxH...], got {text!r}")
        sizes.append((w, h))
    return sizes


def run_main(main: Callable[[Sequence[str] | None], int | None],
             argv: Sequence[str] | None = None) -> int:
    """Run `main(argv)` and map user errors and Ctrl-C to clean exits.

    Returns the exit code instead of calling sys.exit so tests can call it.
    SIGTERM is turned into an interrupt (see `Terminated`). A closed stdout
    (`... --json - | head -1`) ends the run quietly, like other Unix tools. An
    operating-system error (read-only folder, disk full, a path that is a file)
    is one `error:` line naming the path, not a traceback.
    """
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        code = main(argv)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Terminated:
        print("terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        print(f"error: {_os_error_line(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return int(code or 0)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
