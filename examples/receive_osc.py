#!/usr/bin/env python3
"""Minimal OSC receiver: print the hands detect_multi_threaded.py --osc sends.

  python3 examples/receive_osc.py --port 9000 &
  python3 detect_multi_threaded.py --source 0 --osc 127.0.0.1:9000

Messages (one bundle per frame): /handtrack/frame frame timestamp count width height,
then /handtrack/hand id x1 y1 x2 y2 cx cy vx vy score age seen, one per hand.
"""
from __future__ import annotations

import argparse

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9000)
    args = p.parse_args()
    d = Dispatcher()
    d.map("/handtrack/frame", lambda addr, frame, ts, n, w, h: print(f"frame {frame}: {n} hands"))
    d.map("/handtrack/hand", lambda addr, hid, x1, y1, x2, y2, cx, cy, vx, vy, score, age, seen:
          print(f"  hand #{hid} centre ({cx:.0f}, {cy:.0f}) velocity ({vx:.1f}, {vy:.1f}) "
                f"score {score:.2f} age {age} {'seen' if seen else 'predicted'}"))
    print(f"listening for OSC on {args.host}:{args.port} (Ctrl-C stops)")
    try:
        BlockingOSCUDPServer((args.host, args.port), d).serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
