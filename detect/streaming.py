"""Send tracked hands to a running game: OSC, UDP JSON datagrams, a WebSocket server.

Rule for every publisher: `publish(message)` never blocks the detection
pipeline, whatever the receiver does. UDP and OSC use non-blocking datagram
sockets (a full socket buffer or an absent receiver's ICMP "port unreachable"
is a dropped message, counted). The WebSocket server runs its own asyncio loop
in a thread; each client has a bounded queue: when a client reads too slowly
the oldest queued message is dropped (and counted), so a stalled browser tab
holds at most `queue_size` messages and never slows the others.

Message (JSON for UDP and WebSocket; `detect.tracking.frame_message`):
  {"type": "hands", "frame": 12, "timestamp": 0.4, "width": 320, "height": 240,
   "hands": [{"id": 1, "box": [x1, y1, x2, y2], "center": [cx, cy],
              "velocity": [vx, vy], "score": 0.97, "age": 12, "seen": true,
              "class": 1, "name": "hand"}]}
OSC: one bundle per frame: "/handtrack/frame" (frame i, timestamp f, hand count
i, width i, height i), then one "/handtrack/hand" per hand (id i, x1 y1 x2 y2 f,
cx cy f, vx vy f, score f, age i, seen i 0/1). A bundle is one datagram, so a
frame's messages arrive together and in order, or not at all.
"""
from __future__ import annotations

import asyncio
import collections
import json
import logging
import socket
import threading
from typing import Any, Iterable, Protocol

from common.errors import UserError

log = logging.getLogger(__name__)


class Publisher(Protocol):
    name: str
    sent: int
    dropped: int

    def publish(self, message: dict) -> None: ...

    def close(self) -> None: ...


def parse_host_port(text: str, flag: str, default_host: str | None = None) -> tuple[str, int]:
    """'HOST:PORT' (or 'PORT' when default_host is given) -> (host, port); UserError names the flag."""
    host, sep, port = text.rpartition(":")
    if not sep:
        if default_host is None:
            raise UserError(f"{flag}: expected HOST:PORT, got {text!r}")
        host, port = default_host, text
    host = host.strip("[]") or (default_host or "")
    if not host:
        raise UserError(f"{flag}: expected HOST:PORT, got {text!r}")
    try:
        p = int(port)
    except ValueError:
        raise UserError(f"{flag}: port must be a number, got {port!r}") from None
    if not 0 <= p <= 65535:
        raise UserError(f"{flag}: port must be in 0..65535, got {p}")
    return host, p


def _encode(message: dict) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


class UdpPublisher:
    """One JSON datagram per frame to HOST:PORT (non-blocking; drops counted)."""

    name = "udp"

    def __init__(self, host: str, port: int) -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        except socket.gaierror as exc:
            raise UserError(f"--udp: cannot resolve {host} ({exc.strerror})") from None
        family, _, _, _, self.address = infos[0]
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sent = self.dropped = 0

    def publish(self, message: dict) -> None:
        data = _encode(message)
        try:
            self.sock.sendto(data, self.address)
            self.sent += 1
        except OSError:  # BlockingIOError (buffer full), ConnectionRefused (no receiver), ...
            self.dropped += 1

    def close(self) -> None:
        self.sock.close()


class OscPublisher:
    """Open Sound Control over UDP (python-osc): one bundle per frame (non-blocking)."""

    name = "osc"

    def __init__(self, host: str, port: int, prefix: str = "/handtrack") -> None:
        from pythonosc.udp_client import UDPClient

        try:
            self.client = UDPClient(host, port)  # non-blocking socket (python-osc sets it)
        except (OSError, AttributeError) as exc:
            raise UserError(f"--osc: cannot open a UDP socket to {host}:{port} ({exc})") from None
        self.prefix = prefix
        self.sent = self.dropped = 0

    def build(self, message: dict) -> Any:
        """The OSC bundle for one frame message."""
        from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
        from pythonosc.osc_message_builder import OscMessageBuilder

        bundle = OscBundleBuilder(IMMEDIATELY)
        head = OscMessageBuilder(f"{self.prefix}/frame")
        for v in (int(message["frame"]), float(message["timestamp"]), len(message["hands"]),
                  int(message["width"]), int(message["height"])):
            head.add_arg(v)
        bundle.add_content(head.build())
        for h in message["hands"]:
            m = OscMessageBuilder(f"{self.prefix}/hand")
            m.add_arg(int(h["id"]))
            for v in (*h["box"], *h["center"], *h["velocity"], h["score"]):
                m.add_arg(float(v))
            m.add_arg(int(h["age"]))
            m.add_arg(int(bool(h["seen"])))
            bundle.add_content(m.build())
        return bundle.build()

    def publish(self, message: dict) -> None:
        try:
            self.client.send(self.build(message))
            self.sent += 1
        except OSError:
            self.dropped += 1

    def close(self) -> None:
        self.client._sock.close()  # python-osc has no public close


class WebSocketPublisher:
    """A WebSocket server (websockets) that sends every frame message to all clients.

    Runs its own asyncio loop in a thread. Each client has a queue of
    `queue_size` messages; a slow client loses the oldest (counted in `dropped`).
    `port` 0 picks a free port (read `.port`).
    """

    name = "websocket"

    def __init__(self, host: str, port: int, queue_size: int = 2) -> None:
        self.host, self.queue_size = host, queue_size
        self.sent = self.dropped = 0
        self._clients: dict[int, tuple[collections.deque, asyncio.Event]] = {}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._closing = False
        self._thread = threading.Thread(target=self._run, args=(port,), name="websocket",
                                        daemon=False)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            self._thread.join(5)
            raise UserError(f"--websocket: cannot listen on {host}:{port} ({self._error})")

    def _run(self, port: int) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve(port))
        finally:
            self._loop.close()

    async def _serve(self, port: int) -> None:
        from websockets.asyncio.server import serve

        self._stop = asyncio.Event()
        try:
            server = await serve(self._handler, self.host, port)
        except OSError as exc:
            self._error = exc
            self._ready.set()
            return
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()
            self._closing = True
            for _, wake in list(self._clients.values()):
                wake.set()  # handlers blocked on "next message" see _closing and return
            server.close()

    async def _handler(self, ws: Any) -> None:
        queue: collections.deque = collections.deque()
        wake = asyncio.Event()
        self._clients[id(ws)] = (queue, wake)
        try:
            while not self._closing:
                await wake.wait()
                wake.clear()
                while queue:
                    await ws.send(queue.popleft())
        except Exception:  # noqa: BLE001 - client went away
            pass
        finally:
            self._clients.pop(id(ws), None)

    def _enqueue(self, data: str) -> None:
        for queue, wake in list(self._clients.values()):
            if len(queue) >= self.queue_size:
                queue.popleft()
                self.dropped += 1
            queue.append(data)
            wake.set()
        self.sent += 1

    @property
    def num_clients(self) -> int:
        return len(self._clients)

    def publish(self, message: dict) -> None:
        data = _encode(message).decode()
        try:
            self._loop.call_soon_threadsafe(self._enqueue, data)
        except RuntimeError:  # loop closed: shutting down
            self.dropped += 1

    def close(self) -> None:
        if self._thread.is_alive() and self._stop is not None:
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:
                pass
        self._thread.join(10)


def open_publishers(osc: str | None = None, udp: str | None = None,
                    websocket: str | None = None) -> list[Publisher]:
    """Publishers for the CLI flags --osc HOST:PORT, --udp HOST:PORT, --websocket [HOST:]PORT."""
    pubs: list[Publisher] = []
    try:
        if osc:
            pubs.append(OscPublisher(*parse_host_port(osc, "--osc")))
        if udp:
            pubs.append(UdpPublisher(*parse_host_port(udp, "--udp")))
        if websocket:
            pubs.append(WebSocketPublisher(*parse_host_port(websocket, "--websocket",
                                                            default_host="127.0.0.1")))
    except BaseException:
        close_all(pubs)
        raise
    return pubs


def close_all(pubs: Iterable[Publisher]) -> None:
    for p in pubs:
        try:
            p.close()
        except Exception as exc:  # noqa: BLE001 - closing is best effort
            log.warning("closing %s publisher: %s", p.name, exc)
