"""Deterministic train/test/eval assignment, per image or per group.

Random per-image splits are fine for independent photos, but consecutive video
frames are near duplicates: one video in both train and test inflates test
scores. The group split keeps every group (video, capture session) in exactly
one split while approaching the requested fractions by image count.
Everything depends only on the sorted inputs and the seed, so reruns and other
machines reproduce the same split.
"""
from __future__ import annotations

import random
from typing import Mapping, Sequence

from common.errors import UserError

SPLITS = ("train", "test", "eval")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


def parse_fractions(text: str, flag: str = "--fractions") -> tuple[float, float, float]:
    """'0.8,0.1,0.1' -> (0.8, 0.1, 0.1); three non-negative numbers summing to 1."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"{flag}: expected three numbers like 0.8,0.1,0.1, got {text!r}") from None
    if len(values) != 3 or any(v < 0 for v in values) or abs(sum(values) - 1) > 1e-6:
        raise UserError(f"{flag}: expected three non-negative fractions for "
                        f"train,test,eval summing to 1, got {text!r}")
    if values[0] == 0:
        raise UserError(f"{flag}: the train fraction must be > 0, got {text!r}")
    return values  # type: ignore[return-value]


def _counts(n: int, fractions: Sequence[float]) -> list[int]:
    """Cut n items by fractions (train takes the rounding rest); every split with
    a non-zero fraction gets at least one item when n allows it."""
    counts = [round(n * f) for f in fractions[1:]]
    wanted = [i for i, f in enumerate(fractions[1:]) if f > 0]
    if n >= 1 + len(wanted):
        for i in wanted:
            counts[i] = max(counts[i], 1)
    while sum(counts) > n - (1 if n else 0):
        i = max(range(len(counts)), key=lambda k: counts[k])
        counts[i] -= 1
    return [n - sum(counts)] + counts


def split_random(names: Sequence[str], fractions: Sequence[float] = DEFAULT_FRACTIONS,
                 seed: int = 42) -> dict[str, list[str]]:
    """Shuffle the (sorted) names with `seed` and cut them by `fractions`."""
    order = sorted(names)
    random.Random(seed).shuffle(order)
    counts = _counts(len(order), fractions)
    out, start = {}, 0
    for split, count in zip(SPLITS, counts):
        out[split] = sorted(order[start:start + count])
        start += count
    return out


def split_groups(group_sizes: Mapping[str, int],
                 fractions: Sequence[float] = DEFAULT_FRACTIONS,
                 seed: int = 42) -> dict[str, str]:
    """Assign whole groups to splits so image counts approach `fractions`.

    First every split with a non-zero fraction gets one random group no larger
    than its target (if enough groups exist), so test/eval are never empty;
    then the remaining groups, largest first (ties in seeded random order), go
    to the split furthest below its target. Returns {group: split}.
    """
    groups = sorted(group_sizes)
    rng = random.Random(seed)
    rng.shuffle(groups)
    total = sum(group_sizes.values())
    targets = [f * total for f in fractions]
    filled = [0.0] * len(SPLITS)
    assignment: dict[str, str] = {}

    wanted = [i for i, f in enumerate(fractions) if f > 0]
    if len(groups) >= len(wanted):
        # Smallest targets first, so the small splits get the small groups.
        for i in sorted(wanted, key=lambda k: targets[k]):
            free = [g for g in groups if g not in assignment]
            fitting = [g for g in free if group_sizes[g] <= targets[i]]
            pick = fitting[0] if fitting else min(free, key=lambda g: group_sizes[g])
            assignment[pick] = SPLITS[i]
            filled[i] += group_sizes[pick]

    rest = [g for g in groups if g not in assignment]
    rest.sort(key=lambda g: -group_sizes[g])  # stable: shuffled order breaks ties
    for g in rest:
        i = max(wanted, key=lambda k: (targets[k] - filled[k], -k))
        assignment[g] = SPLITS[i]
        filled[i] += group_sizes[g]
    return assignment
