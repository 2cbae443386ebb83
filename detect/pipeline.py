"""The detection engines: one capture thread, N workers sharing ONE Detector, in-order output.

Why threads: model inference (TF Session/SavedModel, TFLite invoke) and most
OpenCV calls release the GIL, so capture, decode/resize, inference and
drawing of different frames overlap on separate cores.

    capture thread --FrameQueue(queue_size)--> N workers --results--> main thread
                                                                     (reorder, outputs)

Back-pressure policy (`FrameSource.live`):
  * live sources (camera, stream): when workers fall behind, the capture thread
    drops the OLDEST queued frame to make room for the new one, so the frame
    being shown is never more than `queue_size` frames stale; drops are counted.
  * files (video, image folder): nothing is dropped; capture blocks until a
    worker takes a frame.

Ordering: workers finish out of order. The queue hands frames out FIFO and
numbers them in hand-out order (a contiguous sequence even when frames were
dropped before hand-out), and the main thread keeps a small reorder buffer
keyed by that number, so results leave in frame order.

Stopping: end of stream, `max_frames` read, q/Esc in the window, Ctrl-C or
SIGTERM, or a worker error. The queue is closed (a closed, empty queue is
the workers' sentinel), every queue wait has a timeout that re-checks the stop
event, and all threads are non-daemon and joined, so nothing is left running.

Signals are deferred while the engine runs in the main thread (`_deferred_signals`):
Python runs a signal handler between any two bytecodes of the main thread, and a
handler that raises there (Ctrl-C's KeyboardInterrupt, common.cli's Terminated) can
land inside `threading.Condition.__enter__` after the lock is taken and before the
`with` block owns it. The lock then stays held, the workers block on it forever,
and the non-daemon workers keep the process alive after it printed "terminated"
(measured: 1 run in 50-160 stuck when one SIGINT lands at a random moment). So the
handler only asks the engine to stop; the interrupt is raised again once every
thread has been joined.

`num_workers=0` runs the single-threaded baseline: the same outputs and stats,
read -> detect -> show in one loop.
"""
from __future__ import annotations

import collections
import contextlib
import logging
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterator

import numpy as np

from detect.detections import SCORE_THRESHOLD, Detections
from detect.outputs import Outputs
from detect.sources import FrameSource

log = logging.getLogger(__name__)

DetectFn = Callable[[np.ndarray], Detections]
_POLL = 0.05          # seconds between stop-event checks in every blocking wait
_JOIN_TIMEOUT = 10.0


class FrameQueue:
    """Bounded FIFO between capture and workers with a drop-oldest mode and close().

    get() returns (seq, item) with seq numbering items in hand-out order, or None
    once the queue is closed and empty.
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.maxsize = maxsize
        self._items: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._seq = 0

    def put_drop_oldest(self, item: Any) -> Any | None:
        """Never blocks; if full, evict and return the oldest item (no-op once closed)."""
        with self._cond:
            if self._closed:
                return None
            dropped = self._items.popleft() if len(self._items) >= self.maxsize else None
            self._items.append(item)
            self._cond.notify()
            return dropped

    def put(self, item: Any, timeout: float) -> bool:
        """Block until there is room; queue.Full after `timeout` s; False if closed."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._items) < self.maxsize or self._closed,
                                       timeout):
                raise queue.Full
            if self._closed:
                return False
            self._items.append(item)
            self._cond.notify()
            return True

    def get(self, timeout: float) -> tuple[int, Any] | None:
        """Next (seq, item); None when closed and drained; queue.Empty on timeout."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._closed, timeout):
                raise queue.Empty
            if not self._items:
                return None
            item = self._items.popleft()
            seq = self._seq
            self._seq += 1
            self._cond.notify_all()
            return seq, item

    def close(self, discard: bool = False) -> int:
        """No more puts; getters drain what is left (or nothing, if discard)."""
        with self._cond:
            self._closed = True
            n = 0
            if discard:
                n = len(self._items)
                self._items.clear()
            self._cond.notify_all()
            return n

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


@dataclass
class _Frame:
    index: int
    t_capture: float
    image: np.ndarray


@dataclass
class PipelineStats:
    frames_read: int = 0
    processed: int = 0
    dropped: int = 0             # live-source frames evicted by drop-oldest
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list, repr=False)  # capture -> result, s
    stop_reason: str = ""

    @property
    def mean_fps(self) -> float:
        return self.processed / self.elapsed if self.elapsed > 0 else 0.0

    def latency_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies, q) * 1000) if self.latencies else 0.0

    def summary(self) -> str:
        unprocessed = self.frames_read - self.processed - self.dropped
        extra = f", {unprocessed} unprocessed at stop" if unprocessed > 0 else ""
        return (f"summary: read {self.frames_read}, processed {self.processed}, dropped "
                f"{self.dropped}{extra} in {self.elapsed:.2f} s; mean {self.mean_fps:.1f} fps; "
                f"latency p50 {self.latency_ms(50):.1f} ms, p95 {self.latency_ms(95):.1f} ms "
                f"({self.stop_reason})")

    def to_json(self) -> dict:
        return {"frames_read": self.frames_read, "processed": self.processed,
                "dropped": self.dropped, "elapsed_s": round(self.elapsed, 4),
                "mean_fps": round(self.mean_fps, 2),
                "latency_p50_ms": round(self.latency_ms(50), 2),
                "latency_p95_ms": round(self.latency_ms(95), 2),
                "stop_reason": self.stop_reason}


class _Progress:
    """Smoothed fps (for the overlay) and the periodic console line."""

    def __init__(self, human: IO[str] | None, every: float) -> None:
        self.human, self.every = human, every
        self.recent: collections.deque[float] = collections.deque(maxlen=30)
        self.t_last_line = time.perf_counter()
        self.n_last_line = 0

    def tick(self, now: float) -> float:
        self.recent.append(now)
        if len(self.recent) < 2 or self.recent[-1] <= self.recent[0]:
            return 0.0
        return (len(self.recent) - 1) / (self.recent[-1] - self.recent[0])

    def maybe_print(self, now: float, stats: PipelineStats, queued: int | None = None) -> None:
        if self.human is None or now - self.t_last_line < self.every:
            return
        fps = (stats.processed - self.n_last_line) / (now - self.t_last_line)
        q = f", queue {queued}" if queued is not None else ""
        print(f"fps {fps:.1f} (processed {stats.processed}, dropped {stats.dropped}{q})",
              file=self.human, flush=True)
        self.t_last_line, self.n_last_line = now, stats.processed


def run_pipeline(source: FrameSource, detect: DetectFn, outputs: Outputs, *,
                 num_workers: int = 2, queue_size: int = 5, score_thresh: float = SCORE_THRESHOLD,
                 max_frames: int | None = None, human: IO[str] | None | str = "stderr",
                 log_every: float = 2.0) -> PipelineStats:
    """Run detection over `source` until it ends or is stopped; return the stats.

    detect: frame_bgr -> Detections (a shared `Detector`, or any callable).
    num_workers 0 = the single-threaded baseline. The summary line is printed to
    `human` (default sys.stderr at call time; None = silent). KeyboardInterrupt
    is re-raised after a clean stop.
    """
    if human == "stderr":
        human = sys.stderr
    if num_workers < 0 or queue_size < 1:
        raise ValueError("num_workers must be >= 0 and queue_size >= 1")
    if max_frames is not None and max_frames < 1:
        raise ValueError("max_frames must be >= 1")
    engine = _single_threaded if num_workers == 0 else _threaded
    stats = PipelineStats()
    progress = _Progress(human, log_every)
    t0 = time.perf_counter()
    interrupted: KeyboardInterrupt | None = None
    with _deferred_signals() as signalled:
        try:
            engine(source, detect, outputs, stats, progress, t0, signalled,
                   num_workers=num_workers, queue_size=queue_size,
                   score_thresh=score_thresh, max_frames=max_frames)
        except KeyboardInterrupt as exc:   # raised by `detect` or an output, not a signal
            interrupted = exc
            stats.stop_reason = "interrupted"
        finally:
            stats.elapsed = time.perf_counter() - t0
        if human is not None:
            print(stats.summary(), file=human, flush=True)
    # Out of the `with`: the handlers the caller had are back; the first signal the
    # run caught now runs its handler (KeyboardInterrupt, Terminated) at a safe point.
    signalled.deliver()
    if interrupted is not None:
        raise interrupted
    return stats


class _CaughtSignals:
    """The signals `_deferred_signals` caught, with the handlers they replaced."""

    def __init__(self) -> None:
        self.caught: list[int] = []
        self.replaced: dict[int, Callable] = {}

    def is_set(self) -> bool:
        return bool(self.caught)

    def deliver(self) -> None:
        """Run the first caught signal's own handler (call once its handler is back)."""
        if self.caught:
            signum = self.caught[0]
            self.replaced[signum](signum, None)


@contextlib.contextmanager
def _deferred_signals() -> Iterator[_CaughtSignals]:
    """Inside the block, SIGINT/SIGTERM handlers that would raise in the main thread
    only record the signal (see the module docstring for the lock they would leak);
    call `deliver()` after the block. Handlers that are not Python functions (SIG_DFL,
    SIG_IGN) stay as they are: the default kills the process outright, which leaks
    nothing. Off the main thread (detect.api runs the engine in a background thread)
    no handler can be set, and none runs there. detect.api's own loop in the caller's
    thread takes a lock too, but it waits in Condition.wait, which re-takes its lock
    in a `finally`: 300 runs with one SIGINT at a random moment never hung it."""
    signals = _CaughtSignals()
    if threading.current_thread() is not threading.main_thread():
        yield signals
        return

    def record(signum: int, _frame: Any) -> None:
        signals.caught.append(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if callable(handler):
            signals.replaced[signum] = handler
            signal.signal(signum, record)
    try:
        yield signals
    finally:
        for signum, handler in signals.replaced.items():
            signal.signal(signum, handler)


def _emit(outputs: Outputs, stats: PipelineStats, progress: _Progress, t0: float,
          frame: _Frame, dets: Detections) -> None:
    now = time.perf_counter()
    stats.processed += 1
    stats.latencies.append(now - frame.t_capture)
    fps = progress.tick(now)
    outputs.emit(frame.index, frame.t_capture - t0, frame.image, dets, fps)


def _single_threaded(source: FrameSource, detect: DetectFn, outputs: Outputs,
                     stats: PipelineStats, progress: _Progress, t0: float,
                     signalled: _CaughtSignals, *, score_thresh: float,
                     max_frames: int | None, **_: Any) -> None:
    while True:
        if signalled.is_set():
            stats.stop_reason = "interrupted"
            return
        if max_frames is not None and stats.frames_read >= max_frames:
            stats.stop_reason = "max frames"
            return
        image = source.read()
        if image is None:
            stats.stop_reason = "end of stream"
            return
        frame = _Frame(stats.frames_read, time.perf_counter(), image)
        stats.frames_read += 1
        _emit(outputs, stats, progress, t0, frame, detect(image).filter(score_thresh))
        if outputs.poll_quit():
            stats.stop_reason = "quit key"
            return
        progress.maybe_print(time.perf_counter(), stats)


_WORKER_DONE = object()


def max_in_flight(queue_size: int, num_workers: int) -> int:
    """Most frames between hand-out and output: the reorder buffer never holds more."""
    return 2 * num_workers + queue_size


def _threaded(source: FrameSource, detect: DetectFn, outputs: Outputs,
              stats: PipelineStats, progress: _Progress, t0: float,
              signalled: _CaughtSignals, *, num_workers: int, queue_size: int,
              score_thresh: float, max_frames: int | None) -> None:
    frames = FrameQueue(queue_size)
    results: queue.Queue = queue.Queue(maxsize=queue_size + num_workers)
    stop = threading.Event()
    errors: list[BaseException] = []
    end_reason: list[str] = []
    # Frames handed to workers and not yet emitted. Bounds the reorder buffer: if one
    # worker stalls, the others stop taking frames (capture then waits or drops)
    # instead of piling results up behind the missing one.
    in_flight = threading.Semaphore(max_in_flight(queue_size, num_workers))
    counts_lock = threading.Lock()

    def capture() -> None:
        try:
            while not stop.is_set():
                if max_frames is not None and stats.frames_read >= max_frames:
                    end_reason.append("max frames")
                    return
                image = source.read()
                if image is None:
                    end_reason.append("end of stream")
                    return
                with counts_lock:
                    frame = _Frame(stats.frames_read, time.perf_counter(), image)
                    stats.frames_read += 1
                if source.live:
                    if frames.put_drop_oldest(frame) is not None:
                        with counts_lock:
                            stats.dropped += 1
                    continue
                while True:
                    try:
                        if not frames.put(frame, timeout=_POLL):
                            return  # closed by the main thread: stopping
                        break
                    except queue.Full:
                        if stop.is_set():
                            return
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            stop.set()
        finally:
            frames.close(discard=stop.is_set())

    def put_result(item: Any) -> None:
        while True:
            try:
                results.put(item, timeout=_POLL)
                return
            except queue.Full:
                if stop.is_set():
                    return

    def worker() -> None:
        try:
            while not stop.is_set():
                if not in_flight.acquire(timeout=_POLL):
                    continue   # the reorder buffer is full: a worker is stuck on a frame
                try:
                    got = frames.get(timeout=_POLL)
                except queue.Empty:
                    in_flight.release()
                    continue
                if got is None:
                    in_flight.release()
                    return
                seq, frame = got
                put_result((seq, frame, detect(frame.image).filter(score_thresh)))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            stop.set()
        finally:
            put_result(_WORKER_DONE)

    threads = [threading.Thread(target=capture, name="capture", daemon=False)]
    threads += [threading.Thread(target=worker, name=f"worker-{i}", daemon=False)
                for i in range(num_workers)]
    for t in threads:
        t.start()
    pending: dict[int, tuple[_Frame, Detections]] = {}
    next_seq = 0
    done = 0
    try:
        while not stop.is_set():
            try:
                item = results.get(timeout=_POLL)
            except queue.Empty:
                item = None
            if item is _WORKER_DONE:
                done += 1
            elif item is not None:
                seq, frame, dets = item
                pending[seq] = (frame, dets)
            while next_seq in pending:
                frame, dets = pending.pop(next_seq)
                _emit(outputs, stats, progress, t0, frame, dets)
                in_flight.release()
                next_seq += 1
            if outputs.poll_quit():
                stats.stop_reason = "quit key"
                break
            if signalled.is_set():
                stats.stop_reason = "interrupted"
                break
            progress.maybe_print(time.perf_counter(), stats, len(frames))
            if done == num_workers and not pending:
                stats.stop_reason = end_reason[0] if end_reason else "end of stream"
                break
    finally:
        stop.set()
        frames.close(discard=True)
        deadline = time.monotonic() + _JOIN_TIMEOUT
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in threads if t.is_alive()]
        if alive:
            log.warning("threads still running after %.0f s: %s", _JOIN_TIMEOUT, alive)
    if errors:
        stats.stop_reason = "error"
        raise errors[0]
