"""Publishers against real receivers on loopback: UDP socket, python-osc server, websockets client."""
from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from common.errors import UserError
from detect.streaming import (OscPublisher, UdpPublisher, WebSocketPublisher,
                              parse_host_port)


def _msg(i: int, hands: int = 1) -> dict:
    return {"type": "hands", "frame": i, "timestamp": i / 30, "width": 320, "height": 240,
            "hands": [{"id": k + 1, "box": [10.0 + i, 20.0, 50.0 + i, 70.0],
                       "center": [30.0 + i, 45.0], "velocity": [1.0, -0.5], "score": 0.9,
                       "age": i, "seen": k == 0, "class": 1} for k in range(hands)]}


def test_parse_host_port_names_the_flag():
    assert parse_host_port("127.0.0.1:9000", "--osc") == ("127.0.0.1", 9000)
    assert parse_host_port("8765", "--websocket", "127.0.0.1") == ("127.0.0.1", 8765)
    for bad in ("9000", "host:port", "h:70000"):
        with pytest.raises(UserError, match="--udp"):
            parse_host_port(bad, "--udp")


def test_udp_datagrams_arrive_in_order_with_content():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(5)
    pub = UdpPublisher(*rx.getsockname())
    try:
        for i in range(20):
            pub.publish(_msg(i, hands=2))
        got = [json.loads(rx.recv(65536)) for _ in range(20)]
    finally:
        pub.close()
        rx.close()
    assert [m["frame"] for m in got] == list(range(20))
    assert got[7] == _msg(7, hands=2)
    assert pub.sent == 20 and pub.dropped == 0


def test_udp_absent_receiver_never_blocks():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nobody listens there now
    pub = UdpPublisher("127.0.0.1", port)
    t0 = time.perf_counter()
    for i in range(500):
        pub.publish(_msg(i))
    elapsed = time.perf_counter() - t0
    pub.close()
    assert elapsed < 1.0
    assert pub.sent + pub.dropped == 500


def test_osc_bundles_reach_a_python_osc_server_in_order():
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import ThreadingOSCUDPServer

    got: list[tuple] = []
    lock = threading.Lock()

    def record(addr, *args):
        with lock:
            got.append((addr, *args))

    d = Dispatcher()
    d.map("/handtrack/*", record)
    server = ThreadingOSCUDPServer(("127.0.0.1", 0), d)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    pub = OscPublisher(*server.server_address)
    try:
        for i in range(5):
            pub.publish(_msg(i, hands=2))
            time.sleep(0.02)  # the threading server handles bundles concurrently
        deadline = time.monotonic() + 5
        while len(got) < 15 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        pub.close()
        server.shutdown()
        server.server_close()
    assert len(got) == 15
    frames = [g for g in got if g[0] == "/handtrack/frame"]
    assert [f[1] for f in frames] == list(range(5))
    assert frames[3] == ("/handtrack/frame", 3, pytest.approx(0.1), 2, 320, 240)
    hand = [g for g in got if g[0] == "/handtrack/hand"][6]  # frame 3, first hand
    assert hand[0:2] == ("/handtrack/hand", 1)
    assert list(hand[2:11]) == pytest.approx([13.0, 20.0, 53.0, 70.0, 33.0, 45.0, 1.0, -0.5, 0.9],
                                             abs=1e-5)
    assert hand[11:] == (3, 1)  # age, seen


def test_websocket_client_receives_in_order_and_slow_client_never_blocks():
    from websockets.sync.client import connect

    pub = WebSocketPublisher("127.0.0.1", 0, queue_size=4)
    try:
        with connect(f"ws://127.0.0.1:{pub.port}", open_timeout=5) as ws:
            deadline = time.monotonic() + 5
            while pub.num_clients < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            for i in range(3):
                pub.publish(_msg(i))
                time.sleep(0.05)
            got = [json.loads(ws.recv(timeout=5)) for _ in range(3)]
            assert [m["frame"] for m in got] == [0, 1, 2]
            assert got[1] == _msg(1)
            # Burst while the client does not read: publish() returns at once.
            t0 = time.perf_counter()
            for i in range(3, 2003):
                pub.publish(_msg(i, hands=4))
            assert time.perf_counter() - t0 < 2.0
            frames = []
            while True:
                m = json.loads(ws.recv(timeout=5))
                frames.append(m["frame"])
                if m["frame"] == 2002:
                    break
            assert frames == sorted(frames) and len(set(frames)) == len(frames)
    finally:
        pub.close()
    assert not pub._thread.is_alive()


def test_websocket_port_in_use_is_a_user_error():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        with pytest.raises(UserError, match="--websocket"):
            WebSocketPublisher("127.0.0.1", s.getsockname()[1])
    finally:
        s.close()
