"""The shared core: annotation table -> split -> images, CSVs, TFRecords, label map.

Both `prep_egohands.py` and `data_prep.import_annotations` end here, so every
dataset on disk has the same layout:

    <out>/images/{train,test,eval}/<filename>     original image bytes
    <out>/{train,test,eval}_labels.csv            one row per box
    <out>/records/<split>.record-NNNNN-of-NNNNN  OD-API tf.train.Examples
    <out>/label_map.pbtxt                         ids 1..N
    <out>/visualize/*.png                         (--visualize N)
    <out>/summary.txt                             what the run produced

Reruns: a fingerprint of the inputs and options is kept in
`<out>/.prep_state.json`. Same fingerprint and finished -> nothing is redone.
Same fingerprint, unfinished (interrupted) -> each step skips its final files,
which are always written atomically, so a present file is a complete one.
Different fingerprint -> the files the last run wrote (listed in the state
file) are removed and rebuilt (stale images of an old split must never leak
into a new one); nothing else in the folder is touched. A non-empty `--out`
without a state file was not written by handtrack and is refused, so a typo
in `--out` can never delete someone's photos or records.

Images are read, fully decoded (to reject truncated files), copied and turned
into Examples by a thread pool (PIL and file I/O release the GIL; TensorFlow
is not fork-safe, so no processes); the main thread writes the shards in a
fixed order, so the output is byte-identical for any number of workers.
"""
from __future__ import annotations

import collections
import hashlib
import itertools
import json
import logging
import os
import random
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

from common.atomic import atomic_write_bytes, atomic_write_text
from common.errors import UserError
from data_prep.annotations import BoxStats, ImageAnn, write_csv
from data_prep.label_map import IGNORE_CLASS, label_map_text, write_label_map
from data_prep.splits import DEFAULT_FRACTIONS, SPLITS, split_groups, split_random

log = logging.getLogger(__name__)

STATE_FILE = ".prep_state.json"
STATE_VERSION = 1          # fingerprint version (bump: every old dataset rebuilds)
MAX_LISTED_FOREIGN = 3
SPLIT_MODES = ("random", "group", "video")  # video: group split, groups are videos
MAX_LISTED_GROUPS = 100

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


@dataclass
class Summary:
    """What a run produced; `lines()` is the human summary printed at the end."""

    out_dir: Path
    split_mode: str
    images: dict[str, int] = field(default_factory=dict)
    boxes: dict[str, int] = field(default_factory=dict)
    negatives: dict[str, int] = field(default_factory=dict)
    ignored: dict[str, int] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    classes: dict[str, int] = field(default_factory=dict)
    clipped: int = 0
    degenerate: int = 0
    notes: list[str] = field(default_factory=list)
    skipped_run: bool = False

    def lines(self) -> list[str]:
        out = [f"dataset in {self.out_dir} (split: {self.split_mode})"]
        out.append(f"  {'split':<6} {'images':>7} {'boxes':>7} {'no-box':>7} {'ignore':>7} "
                   f"{'groups':>7}")
        for split in SPLITS:
            out.append(f"  {split:<6} {self.images.get(split, 0):>7} "
                       f"{self.boxes.get(split, 0):>7} {self.negatives.get(split, 0):>7} "
                       f"{self.ignored.get(split, 0):>7} {len(self.groups.get(split, [])):>7}")
        out.append("  boxes per class: " + ", ".join(f"{k}={v}" for k, v in self.classes.items()))
        out.append(f"  boxes clipped to the image: {self.clipped}; "
                   f"degenerate boxes skipped: {self.degenerate}")
        if self.split_mode != "random":
            total = sum(len(v) for v in self.groups.values())
            if total <= MAX_LISTED_GROUPS:
                for split in SPLITS:
                    out.append(f"  {split} groups: {', '.join(self.groups.get(split, [])) or '-'}")
        out.extend(f"  {note}" for note in self.notes)
        return out


def plan_splits(images: Sequence[ImageAnn], mode: str, fractions: Sequence[float],
                seed: int, eval_groups: Sequence[str] = ()) -> dict[str, list[ImageAnn]]:
    """Assign images to splits: per image ('random') or per group ('group'/'video').

    `eval_groups` (group modes only) pins named groups to eval, so a held-out
    video or session can be chosen rather than drawn; the other groups share
    train and test by `fractions`.
    """
    by_name = {image.filename: image for image in images}
    if eval_groups and mode not in ("group", "video"):
        raise UserError("--eval-groups needs --split group (or video)")
    if mode == "random":
        names = split_random(list(by_name), fractions, seed)
        return {split: [by_name[n] for n in names[split]] for split in SPLITS}
    if mode in ("group", "video"):
        sizes = collections.Counter(image.group for image in images)
        if eval_groups:
            unknown = sorted(set(eval_groups) - set(sizes))
            if unknown:
                raise UserError(f"--eval-groups: no such group: {', '.join(unknown)} "
                                f"(groups: {', '.join(sorted(sizes)[:10])})")
            rest = {g: n for g, n in sizes.items() if g not in eval_groups}
            if not rest:
                raise UserError("--eval-groups: every group is held out; nothing left to train on")
            kept = fractions[0] + fractions[1]
            where = split_groups(rest, (fractions[0] / kept, fractions[1] / kept, 0.0), seed)
            where.update({g: "eval" for g in eval_groups})
        else:
            where = split_groups(sizes, fractions, seed)
        plan: dict[str, list[ImageAnn]] = {split: [] for split in SPLITS}
        for name in sorted(by_name):
            plan[where[by_name[name].group]].append(by_name[name])
        return plan
    raise UserError(f"--split must be one of {', '.join(SPLIT_MODES)}, got {mode!r}")


def record_order(items: Sequence[ImageAnn], seed: int) -> list[ImageAnn]:
    """The order records are written in: a seeded shuffle of the (sorted) split.

    Sorted records put a video's consecutive, near-identical frames side by side,
    and a reader's shuffle buffer then draws whole batches from one scene; the
    OD API's own converters write in shuffled order for the same reason.
    """
    order = sorted(items, key=lambda i: i.filename)
    random.Random(seed).shuffle(order)
    return order


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int,
                window: int | None = None) -> Iterator[R]:
    """map() on a thread pool, results in input order, at most `window` in flight
    (bounds memory: results hold whole images)."""
    if workers <= 1:
        yield from map(fn, items)
        return
    window = window or 4 * workers
    iterator = iter(items)
    pool = ThreadPoolExecutor(workers, thread_name_prefix="prep")
    try:
        pending = collections.deque(pool.submit(fn, item)
                                    for item in itertools.islice(iterator, window))
        while pending:
            result = pending.popleft().result()
            for item in itertools.islice(iterator, 1):
                pending.append(pool.submit(fn, item))
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _fingerprint(plan: dict[str, list[ImageAnn]], class_names: Sequence[str],
                 options: dict) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps({"v": STATE_VERSION, "classes": list(class_names),
                              "options": options}, sort_keys=True).encode())
    for split in SPLITS:
        for image in plan[split]:
            try:
                stat = image.source.stat()
            except OSError:
                raise UserError(f"{image.source}: image not found") from None
            digest.update(json.dumps([split, image.filename, str(image.source), stat.st_size,
                                      stat.st_mtime_ns, image.width, image.height, image.group,
                                      [list(vars(b).values()) for b in image.boxes]]).encode())
    return digest.hexdigest()


def _read_state(out_dir: Path) -> dict:
    try:
        return json.loads((out_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _write_state(out_dir: Path, fingerprint: str | None, done: bool,
                 files: Sequence[str] = ()) -> None:
    """`files`: every path (relative to out_dir) this run may write; a rebuild deletes
    exactly these, so anything else in the folder is never ours to remove."""
    atomic_write_text(out_dir / STATE_FILE,
                      json.dumps({"fingerprint": fingerprint, "done": done,
                                  "files": sorted(set(files))}) + "\n")


def claim_out_dir(out_dir: str | os.PathLike, extra_ours: Sequence[str] = ()) -> None:
    """Refuse a non-empty `out_dir` that handtrack did not write; mark a new one as ours.

    Ours means: it holds our state file, or it is empty (or missing), or it holds
    only `extra_ours` names (e.g. prep_egohands' own download and extraction).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {out_dir} is a file; give a folder")
    if (out_dir / STATE_FILE).is_file():
        return
    foreign = sorted(p.name for p in out_dir.iterdir()) if out_dir.is_dir() else []
    foreign = [name for name in foreign if name not in extra_ours]
    if foreign:
        shown = ", ".join(foreign[:MAX_LISTED_FOREIGN]) + (", ..." if len(foreign) >
                                                           MAX_LISTED_FOREIGN else "")
        raise UserError(f"--out {out_dir}: folder is not empty ({shown}) and was not written "
                        f"by handtrack (no {STATE_FILE}); choose a new or empty folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_state(out_dir, None, done=False)


def _planned_files(plan: dict[str, list[ImageAnn]], shards: int) -> list[str]:
    from data_prep.tfrecords import shard_paths

    files = [f"{s}_labels.csv" for s in SPLITS] + ["label_map.pbtxt", "summary.txt"]
    for split in SPLITS:
        files += [f"images/{split}/{image.filename}" for image in plan[split]]
        files += [f"records/{p.name}" for p in shard_paths(Path("records"), split, shards)]
    return files


def _remove_listed(out_dir: Path, files: Sequence[str]) -> None:
    """Delete the listed files, then any of our folders left empty."""
    root = out_dir.resolve()
    for rel in files:
        path = (out_dir / rel)
        if root in path.resolve().parents and (path.is_file() or path.is_symlink()):
            path.unlink()
    for folder in sorted({(out_dir / rel).parent for rel in files}, key=lambda p: -len(p.parts)):
        for candidate in [folder, *folder.parents]:
            if candidate == out_dir or out_dir not in candidate.parents:
                break
            try:
                candidate.rmdir()  # only succeeds when empty
            except OSError:
                break


def _managed_paths(out_dir: Path) -> list[Path]:
    return ([out_dir / "images" / s for s in SPLITS] + [out_dir / "records"]
            + [out_dir / f"{s}_labels.csv" for s in SPLITS]
            + [out_dir / "label_map.pbtxt", out_dir / "visualize", out_dir / "summary.txt"])


def _clear_outputs(out_dir: Path) -> None:
    for path in _managed_paths(out_dir):
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _remove_stale_temps(out_dir: Path) -> None:
    """Temp files of a killed run (atomic_path's `.name.XXXX.tmp`) are garbage."""
    stale = list(out_dir.glob(".*.tmp"))
    for folder in [out_dir / "records", out_dir / "visualize",
                   *(out_dir / "images" / s for s in SPLITS)]:
        if folder.is_dir():
            stale.extend(folder.rglob(".*.tmp"))
    for tmp in stale:
        tmp.unlink(missing_ok=True)


def _check_sources_outside(images: Sequence[ImageAnn], out_dir: Path) -> None:
    managed = [p.resolve() for p in _managed_paths(out_dir)]
    for parent in {image.source.resolve().parent for image in images}:
        for path in managed:
            if parent == path or path in parent.parents:
                raise UserError(f"--out {out_dir}: it would overwrite the input images in "
                                f"{parent}; choose another output folder")


def _summarize(plan: dict[str, list[ImageAnn]], out_dir: Path, mode: str,
               class_names: Sequence[str], stats: BoxStats) -> Summary:
    summary = Summary(out_dir=out_dir, split_mode=mode, clipped=stats.clipped,
                      degenerate=stats.degenerate)
    classes = collections.Counter()
    for split in SPLITS:
        items = plan[split]
        summary.images[split] = len(items)
        summary.boxes[split] = sum(len(i.boxes) for i in items)
        summary.negatives[split] = sum(1 for i in items if not i.boxes)
        summary.ignored[split] = sum(1 for i in items for b in i.boxes
                                     if b.label == IGNORE_CLASS or b.difficult)
        summary.groups[split] = sorted({i.group for i in items})
        classes.update(b.label for i in items for b in i.boxes)
    summary.classes = {name: classes.get(name, 0) for name in [*class_names, IGNORE_CLASS]
                       if name in class_names or classes.get(name)}
    return summary


def class_names_for(images: Sequence[ImageAnn], given: Sequence[str] | None,
                    where: str) -> list[str]:
    """The label map's classes: `given` (checked against the data) or sorted names found."""
    found = sorted({b.label for i in images for b in i.boxes} - {IGNORE_CLASS})
    if given is None:
        if not found:
            raise UserError(f"{where}: no boxes with a class other than '{IGNORE_CLASS}'")
        return found
    unknown = sorted(set(found) - set(given))
    if unknown:
        raise UserError(f"{where}: class(es) {', '.join(unknown)} are not in the label map "
                        f"({', '.join(given)})")
    return list(given)


def write_dataset(images: Sequence[ImageAnn], out_dir: str | os.PathLike,
                  class_names: Sequence[str], *, split: str = "random", seed: int = 42,
                  fractions: Sequence[float] = DEFAULT_FRACTIONS, shards: int = 1,
                  workers: int | None = None, visualize: int = 0,
                  box_stats: BoxStats | None = None, notes: Sequence[str] = (),
                  progress: bool = True, eval_groups: Sequence[str] = ()) -> Summary:
    """Split `images` and write the full dataset layout under `out_dir`; see module doc.

    `notes` are extra summary lines from the caller (e.g. EgoHands polygon counts).
    """
    from tqdm import tqdm

    from data_prep.tfrecords import assign_shards, build_example, inspect_image, \
        shard_paths, shard_writers
    from data_prep.visualize import write_visualizations

    out_dir = Path(out_dir)
    workers = workers or default_workers()
    if shards < 1:
        raise UserError(f"--shards must be >= 1, got {shards}")
    if visualize < 0:
        raise UserError(f"--visualize must be >= 0, got {visualize}")
    if not images:
        raise UserError("no images to write")
    duplicates = [n for n, c in collections.Counter(i.filename for i in images).items() if c > 1]
    if duplicates:
        raise UserError(f"duplicate image file name(s): {', '.join(sorted(duplicates)[:5])}")
    label_map_text(list(class_names))  # validates: non-empty, unique, no 'ignore'
    class_ids = {name: idx for idx, name in enumerate(class_names, start=1)}
    for image in images:
        for box in image.boxes:
            if box.label != IGNORE_CLASS and box.label not in class_ids:
                raise UserError(f"{image.filename}: class {box.label!r} is not in the label map")
    _check_sources_outside(images, out_dir)
    claim_out_dir(out_dir)

    plan = plan_splits(images, split, fractions, seed, eval_groups)
    summary = _summarize(plan, out_dir, split, class_names, box_stats or BoxStats())
    summary.notes.extend(notes)
    options = {"split": split, "seed": seed, "fractions": list(fractions), "shards": shards,
               "eval_groups": sorted(eval_groups), "record_order": "shuffled"}
    fingerprint = _fingerprint(plan, class_names, options)
    state = _read_state(out_dir)
    if state.get("fingerprint") == fingerprint and state.get("done"):
        log.info("%s is up to date (same inputs and options); skipping the writing steps",
                 out_dir)
        summary.skipped_run = True
    else:
        if state.get("fingerprint") != fingerprint and any(p.exists()
                                                           for p in _managed_paths(out_dir)):
            log.info("inputs or options changed since the last run: rebuilding %s", out_dir)
            if "files" in state:
                _remove_listed(out_dir, state["files"])
            else:  # a folder from before the file list: its managed paths were all ours
                _clear_outputs(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(out_dir)
        planned = _planned_files(plan, shards)
        _write_state(out_dir, fingerprint, done=False, files=planned)

        for name in SPLITS:
            csv_path = out_dir / f"{name}_labels.csv"
            if not csv_path.exists():
                write_csv(csv_path, plan[name])
        log.info("wrote %s", ", ".join(f"{s}_labels.csv" for s in SPLITS))

        records_dir = out_dir / "records"
        for name in SPLITS:
            split_dir = out_dir / "images" / name
            split_dir.mkdir(parents=True, exist_ok=True)
            paths = shard_paths(records_dir, name, shards)
            shuffled = record_order(plan[name], seed)
            per_shard = assign_shards(shuffled, shards)
            missing = {p: items for p, items in zip(paths, per_shard) if not p.exists()}
            need_record = {i.filename for items in missing.values() for i in items}
            todo = [i for i in shuffled
                    if i.filename in need_record or not (split_dir / i.filename).exists()]
            if not todo and not missing:
                log.info("%s: images and records already written", name)
                continue
            shard_of = {i.filename: p for p, items in missing.items() for i in items}

            def prepare(image: ImageAnn, split_dir: Path = split_dir) -> tuple[str, bytes | None]:
                try:
                    data = image.source.read_bytes()
                except OSError as exc:
                    raise UserError(f"{image.source}: cannot read image ({exc})") from None
                fmt, width, height = inspect_image(data, image.source)
                if (width, height) != (image.width, image.height):
                    raise UserError(f"{image.source}: image is {width}x{height} but its "
                                    f"annotations say {image.width}x{image.height}")
                target = split_dir / image.filename
                if not target.exists():
                    atomic_write_bytes(target, data)
                if image.filename not in shard_of:
                    return image.filename, None
                example = build_example(image, data, fmt, class_ids)
                return image.filename, example.SerializeToString()

            records_dir.mkdir(parents=True, exist_ok=True)
            with shard_writers(missing) as writers:
                results = ordered_map(prepare, todo, workers)
                for filename, record in tqdm(results, total=len(todo), unit="img",
                                             desc=f"{name} images+records", leave=False,
                                             disable=not progress):
                    if record is not None:
                        writers[shard_of[filename]].write(record)
            log.info("%s: %d images, %d shard(s) written", name, len(plan[name]), len(missing))

        label_map = out_dir / "label_map.pbtxt"
        write_label_map(label_map, list(class_names))
        atomic_write_text(out_dir / "summary.txt", "\n".join(summary.lines()) + "\n")
        _write_state(out_dir, fingerprint, done=True, files=planned)

    if visualize:
        written = write_visualizations(out_dir, plan, visualize, progress=progress)
        state = _read_state(out_dir)
        listed = set(state.get("files", []))
        pngs = {f"visualize/{p.name}" for p in (out_dir / "visualize").glob("*.png")}
        if not pngs <= listed:
            _write_state(out_dir, fingerprint, done=bool(state.get("done")),
                         files=[*listed, *pngs])
        summary.notes.append(f"visualizations: {written} PNGs in {out_dir / 'visualize'}")
    return summary
