"""Tracker semantics, the track_stream API and the streaming CLI on the bundled clip."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from detect.detections import Detections
from detect.tracking import HandTracker
from tests.conftest import REPO_ROOT
from tests.test_detect_pipeline import FakeSource, SlowDetector

CLIP = REPO_ROOT / "samples" / "hands_sample.mp4"
MODEL = REPO_ROOT / "exported_models" / "handtrack_default"


def _dets(*boxes, score=0.9) -> Detections:
    b = np.array(boxes, np.float32).reshape(-1, 4)
    return Detections(b, np.full(len(b), score, np.float32), np.ones(len(b), np.int32))


def test_ids_are_stable_and_survive_exactly_max_misses():
    t = HandTracker(max_misses=3)
    ids = []
    for i in range(10):
        hands = t.update(_dets([10 + 3 * i, 10, 50 + 3 * i, 60], [200, 100, 240, 150]))
        ids.append(tuple(h.id for h in hands))
        assert all(h.seen for h in hands)
    assert len(set(ids)) == 1 and len(ids[0]) == 2
    moving = ids[0][0]
    predicted = []
    for _ in range(6):  # the moving hand vanishes, the other stays
        hands = {h.id: h for h in t.update(_dets([200, 100, 240, 150]))}
        if moving in hands:
            assert not hands[moving].seen
            predicted.append(hands[moving].center[0])
    assert len(predicted) == 3
    assert predicted == sorted(predicted)  # keeps moving right while predicted
    again = t.update(_dets([200, 100, 240, 150], [90, 10, 130, 60]))
    assert ids[0][1] in {h.id for h in again}
    assert moving not in {h.id for h in again}  # a new hand after the track died


def test_smoothing_reduces_jitter_and_velocity_follows_motion():
    rng = np.random.default_rng(0)
    smooth, raw = HandTracker(), HandTracker(smooth=False)
    truth, out_s, out_r = [], [], []
    for i in range(60):
        cx = 50 + 2.0 * i
        noise = rng.normal(0, 3, 4)
        box = [cx - 20 + noise[0], 40 + noise[1], cx + 20 + noise[2], 80 + noise[3]]
        truth.append(cx)
        out_s.append(smooth.update(_dets(box))[0])
        out_r.append(raw.update(_dets(box))[0])

    def jitter(hands):
        c = np.array([h.center[0] for h in hands[10:]])
        return float(np.std(np.diff(c) - 2.0))

    assert jitter(out_s) < 0.6 * jitter(out_r)
    vx = np.mean([h.velocity[0] for h in out_s[30:]])  # true: +2 px/frame
    assert 1.0 < vx < 3.0
    assert abs(np.mean([h.velocity[1] for h in out_s[30:]])) < 0.5
    assert out_s[-1].age == 59 and out_s[-1].score == pytest.approx(0.9)
    assert set(out_s[-1].to_json()) >= {"id", "box", "center", "velocity", "score", "age", "seen"}


def test_track_stream_file_is_lossless_in_order_and_shuts_down():
    import detect

    before = threading.active_count()
    got = []
    for frame, hands in detect.track_stream(str(CLIP), model=MODEL, max_frames=12):
        got.append((frame.shape, hands))
    assert len(got) == 12 and got[0][0] == (240, 320, 3)
    ids = [h.id for _, hands in got for h in hands]
    assert ids and min(ids) >= 1
    # leaving early stops the pipeline and joins its threads
    stream = detect.track_stream(str(CLIP), model=MODEL)
    for i, _ in enumerate(stream):
        if i == 2:
            break
    stream.close()
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() == before


def test_track_stream_live_source_newest_result_wins():
    import detect

    src = FakeSource(40, live=True, period=0.005)
    stream = detect.track_stream(src, detector=SlowDetector(0.001), num_workers=1)
    seen = []
    for frame, hands in stream:
        seen.append(int(frame[0, 0, 0]))
        time.sleep(0.03)  # a slow game loop
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    assert stream.dropped_results + stream.stats.dropped > 0
    assert len(seen) < 40


def test_cli_streams_udp_and_osc_in_frame_order():
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import BlockingOSCUDPServer

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(30)
    osc_frames = []
    d = Dispatcher()
    d.map("/handtrack/frame", lambda addr, f, *rest: osc_frames.append(f))
    osc = BlockingOSCUDPServer(("127.0.0.1", 0), d)
    th = threading.Thread(target=osc.serve_forever, daemon=True)
    th.start()
    try:
        r = subprocess.Popen(
            [sys.executable, "detect_multi_threaded.py", "--source", str(CLIP), "--display", "0",
             "--max-frames", "15", "--udp", "127.0.0.1:%d" % rx.getsockname()[1],
             "--osc", "%s:%d" % osc.server_address],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        msgs = [json.loads(rx.recv(65536)) for _ in range(15)]
        out, _ = r.communicate(timeout=60)
    finally:
        osc.shutdown()
        osc.server_close()
        rx.close()
    assert r.returncode == 0, out
    assert "tracking on" in out and "udp: sent 15, dropped 0" in out
    assert [m["frame"] for m in msgs] == list(range(15))
    assert all(m["type"] == "hands" and m["width"] == 320 for m in msgs)
    ids = {h["id"] for m in msgs for h in m["hands"]}
    assert ids and all(i >= 1 for i in ids)
    assert osc_frames == list(range(15))


def test_cli_bad_stream_flag_is_one_error_line():
    r = subprocess.run([sys.executable, "detect_multi_threaded.py", "--display", "0",
                        "--osc", "localhost"], cwd=REPO_ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["error: --osc: expected HOST:PORT, got 'localhost'"]
