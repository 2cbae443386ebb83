"""Shared command line of detect_multi_threaded.py and detect_single_threaded.py.

Both scripts take the same flags and run the same code (`detect.pipeline`);
the single-threaded one is the baseline the threaded engine is measured
against. Cheap checks (flags, model path, source, screen) run before the model
is loaded, so mistakes fail in well under a second with one `error:` line.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Sequence

from common.cli import check_flag, int_at_least, parse_command_line
from detect.detections import SCORE_THRESHOLD
from detect.detector import PREFERENCE, DEFAULT_MODEL, FORMATS, DEFAULT_TILES, TILES, TILES_HELP


def build_parser(threaded: bool) -> argparse.ArgumentParser:
    what = ("one capture thread and --num-workers detection threads sharing one model"
            if threaded else "one thread: read, detect, show (the baseline)")
    p = argparse.ArgumentParser(
        description=f"Real-time hand detection on a camera, video, stream or image folder; {what}.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--source", default="0",
                   help="camera index (0, 1, ...), video file, stream URL (rtsp://, http://) "
                        "or a folder of images")
    p.add_argument("--display", type=int, choices=(0, 1), default=1,
                   help="1: show a window (q or Esc quits); 0: headless")
    p.add_argument("--width", type=int, default=320, help="capture width; file frames are resized")
    p.add_argument("--height", type=int, default=240, help="capture height")
    workers_help = "detection worker threads" if threaded else \
        "accepted for compatibility with detect_multi_threaded.py; ignored"
    p.add_argument("--num-workers", type=int, default=2, help=workers_help)
    p.add_argument("--queue-size", type=int, default=None,
                   help="frames waiting between capture and workers. Live sources (camera, "
                        "stream): the newest frame wins; when the queue is full the oldest "
                        "waiting frame is dropped, so a frame waits behind at most N-1 others "
                        "(default 1: lowest latency). Files: capture waits, nothing is dropped "
                        "(default 5)" if threaded else workers_help)
    p.add_argument("--score-thresh", type=float, default=SCORE_THRESHOLD,
                   help="keep detections with at least this score")
    p.add_argument("--model", default=str(DEFAULT_MODEL),
                   help="export dir, SavedModel dir, .pb or .tflite file")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="which format to load from an export dir (default: the first present "
                        "of " + ", ".join(PREFERENCE) + ")")
    p.add_argument("--num-threads", type=int, default=None,
                   help="TFLite interpreter threads (and frozen-graph intra-op threads); "
                        "default: all cores")
    p.add_argument("--tiles", choices=TILES, default=DEFAULT_TILES, help=TILES_HELP)
    p.add_argument("--output", default=None, help="write an annotated video here (mp4v)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after reading N frames")
    p.add_argument("--json", default=None,
                   help="write one JSON line per processed frame, in frame order "
                        "('-' = stdout; human output then goes to stderr)")
    p.add_argument("--track", choices=("auto", "on", "off"), default="auto",
                   help="give each hand a stable id and a smoothed box (norfair Kalman "
                        "tracker); auto = on for live sources and whenever --osc/--udp/"
                        "--websocket is given, off for files")
    p.add_argument("--max-misses", type=int_at_least(1), default=5,
                   help="with --track: frames a hand is kept (predicted) without a detection")
    p.add_argument("--osc", default=None, metavar="HOST:PORT",
                   help="send hands as Open Sound Control bundles (/handtrack/frame, "
                        "/handtrack/hand) to HOST:PORT")
    p.add_argument("--udp", default=None, metavar="HOST:PORT",
                   help="send one JSON datagram per frame to HOST:PORT")
    p.add_argument("--websocket", default=None, metavar="[HOST:]PORT",
                   help="serve a WebSocket on [HOST:]PORT (host default 127.0.0.1) that "
                        "sends one JSON message per frame to every client")
    return p


MAX_WORKERS = 64          # threads sharing one model; more only adds memory and contention
EXIT_FRAMES_LOST = 1      # the input was damaged: some frames could not be read


def _validate(args: argparse.Namespace, threaded: bool) -> None:
    """Flag bounds, checked after parsing so each mistake is one `error:` line (exit 2)."""
    if threaded:
        check_flag("--num-workers", args.num_workers, at_least=1, at_most=MAX_WORKERS)
        check_flag("--queue-size", args.queue_size, at_least=1)
    check_flag("--score-thresh", args.score_thresh, at_least=0.0, at_most=1.0)
    check_flag("--max-frames", args.max_frames, at_least=1)
    check_flag("--num-threads", args.num_threads, at_least=1)
    check_flag("--width", args.width, at_least=1)
    check_flag("--height", args.height, at_least=1)
    from detect.streaming import parse_host_port

    for flag, value, default_host in (("--osc", args.osc, None), ("--udp", args.udp, None),
                                      ("--websocket", args.websocket, "127.0.0.1")):
        if value is not None:
            parse_host_port(value, flag, default_host)


def main(argv: Sequence[str] | None = None, *, threaded: bool = True) -> int:
    args = parse_command_line(build_parser(threaded), argv)
    _validate(args, threaded)
    # Heavy imports after flag parsing so --help and flag errors are instant.
    from detect.detector import Detector, resolve_model
    from detect.outputs import Outputs, check_display, check_output_paths
    from detect.pipeline import run_pipeline
    from detect.sources import check_source, open_source

    human = sys.stderr if args.json == "-" else sys.stdout
    resolve_model(args.model, args.format)  # missing model: fail before opening a camera
    check_source(args.source)
    check_output_paths(args.output, args.json)
    if args.display:
        check_display()
    damage = None
    # The model loads before the source opens: frames of a live source would pile up
    # while it loads and the first ones shown would be seconds old. Closed at the end.
    with contextlib.closing(Detector(args.model, format=args.format,
                                     num_threads=args.num_threads, tiles=args.tiles)) as detector, \
            open_source(args.source, args.width, args.height) as source:
        streaming = bool(args.osc or args.udp or args.websocket)
        track = args.track == "on" or (args.track == "auto" and (source.live or streaming))
        queue_size = args.queue_size or (1 if source.live else 5)
        outputs = Outputs(display=bool(args.display), output=args.output, json_path=args.json,
                          size=(args.width, args.height), fps=source.fps)
        outputs.frame_name = source.frame_name   # image folders: file name in each JSON line
        if track or streaming:
            from detect.hand_outputs import TrackedOutputs
            from detect.streaming import open_publishers
            from detect.tracking import HandTracker

            try:
                publishers = open_publishers(args.osc, args.udp, args.websocket)
            except BaseException:
                outputs.close(keep=False)
                raise
            outputs = TrackedOutputs(outputs, publishers=publishers,
                                     tracker=HandTracker(max_misses=args.max_misses)
                                     if track else None, size=(args.width, args.height))
            for pub in publishers:
                where = f"port {pub.port}" if hasattr(pub, "port") else ""
                print(f"streaming hands: {pub.name} {where}".rstrip(), file=human, flush=True)
        ok = False
        try:
            print(f"{source.description} -> {detector.format} model {detector.path}, "
                  f"{args.num_workers if threaded else 0} workers, tracking "
                  f"{'on' if track else 'off'}", file=human, flush=True)
            run_pipeline(source, detector, outputs,
                         num_workers=args.num_workers if threaded else 0,
                         queue_size=queue_size, score_thresh=args.score_thresh,
                         max_frames=args.max_frames, human=human)
            ok = True
            damage = source.damage_note()
            if hasattr(outputs, "summary") and outputs.publishers:
                print(f"streamed: {outputs.summary()}", file=human, flush=True)
        except KeyboardInterrupt:
            ok = True  # what was processed is a valid result: keep the files
            raise
        finally:
            outputs.close(keep=ok)
    if damage:
        print(f"warning: {damage}; exit code {EXIT_FRAMES_LOST}", file=sys.stderr, flush=True)
        return EXIT_FRAMES_LOST
    return 0
