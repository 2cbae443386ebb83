#!/usr/bin/env python3
"""Catch the falling stars with your hand: a small pygame demo driven by tracked hands.

Each tracked hand (detect.track_stream: ids, Kalman-smoothed boxes) is a
paddle at the hand's centre; stars fall from the top; touching one scores.
The camera image is drawn behind, mirrored for a camera so it feels like a
mirror. Runs headless with SDL_VIDEODRIVER=dummy (the test does).

  python3 examples/hand_game.py --source samples/hands_sample.mp4   # the bundled clip
  python3 examples/hand_game.py --source 0                           # camera 0
  SDL_VIDEODRIVER=dummy python3 examples/hand_game.py --max-frames 30 --source samples/hands_sample.mp4
"""
from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from common.cli import int_at_least, run_main  # noqa: E402
from common.errors import UserError  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--source", default="0", help="camera index, video file or stream URL")
    p.add_argument("--model", default="exported_models/handtrack_default",
                   help="export dir (or model file)")
    p.add_argument("--width", type=int_at_least(64), default=640, help="window width")
    p.add_argument("--height", type=int_at_least(48), default=480, help="window height")
    p.add_argument("--max-frames", type=int_at_least(1), default=None,
                   help="stop after N frames (for headless runs)")
    p.add_argument("--seed", type=int, default=0, help="star positions")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import cv2
    import numpy as np
    import pygame

    import detect

    stream = detect.track_stream(args.source, model=args.model, width=args.width,
                                 height=args.height, max_frames=args.max_frames)
    mirror = stream.live
    pygame.display.init()  # not pygame.init(): no audio device needed (or probed)
    pygame.font.init()
    try:
        screen = pygame.display.set_mode((args.width, args.height))
    except pygame.error as exc:
        stream.close()
        raise UserError(f"cannot open a window ({exc}); set SDL_VIDEODRIVER=dummy to run "
                        "headless") from None
    pygame.display.set_caption("handtrack: catch the stars (Esc quits)")
    font = pygame.font.Font(None, 32)
    rng = random.Random(args.seed)
    stars = [[rng.uniform(20, args.width - 20), rng.uniform(-args.height, 0)] for _ in range(6)]
    score, frames = 0, 0
    with stream:
        for frame, hands in stream:
            frames += 1
            if any(e.type == pygame.QUIT or (e.type == pygame.KEYDOWN and e.key == pygame.K_ESCAPE)
                   for e in pygame.event.get()):
                break
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            if mirror:
                rgb = rgb[:, ::-1]
            screen.blit(pygame.surfarray.make_surface(np.ascontiguousarray(rgb.swapaxes(0, 1))),
                        (0, 0))
            paddles = []
            for h in hands:
                cx, cy = h.center
                if mirror:
                    cx = args.width - cx
                radius = max(12.0, (h.box[2] - h.box[0]) / 3)
                paddles.append((cx, cy, radius))
                color = (60, 220, 90) if h.seen else (150, 150, 150)
                pygame.draw.circle(screen, color, (int(cx), int(cy)), int(radius), 4)
                screen.blit(font.render(f"#{h.id}", True, color), (cx - 12, cy - radius - 24))
            for star in stars:
                star[1] += 6
                if any((star[0] - x) ** 2 + (star[1] - y) ** 2 < r ** 2 for x, y, r in paddles):
                    score += 1
                    star[:] = [rng.uniform(20, args.width - 20), -20]
                elif star[1] > args.height + 20:
                    star[:] = [rng.uniform(20, args.width - 20), -20]
                pygame.draw.circle(screen, (255, 215, 0), (int(star[0]), int(star[1])), 10)
            screen.blit(font.render(f"score {score}  hands {len(hands)}", True, (255, 255, 255)),
                        (10, 10))
            pygame.display.flip()
    pygame.quit()
    print(f"frames {frames}, score {score}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
