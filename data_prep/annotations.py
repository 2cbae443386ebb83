"""The annotation table every source is turned into, and its CSV form.

EgoHands polygons, Pascal VOC folders and users' CSVs all become a list of
`ImageAnn` (one per image, with its boxes), so splitting, copying, CSV and
TFRecord writing exist once. Boxes are validated here, at the edge, so the
writer can trust them: coordinates are absolute pixels, clipped to the image,
and boxes smaller than `MIN_BOX_PX` after clipping are dropped and counted as
degenerate rather than written (a zero-area box only produces NaNs in losses).

CSV format (read and written): `filename,width,height,class,xmin,ymin,xmax,ymax`
plus optional `group` and `difficult` (0/1) columns; one row per box. A row
with an empty `class` and empty coordinates lists an image without objects
(accepted on input; written CSVs hold box rows only).
"""
from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable

from common.atomic import atomic_write_text
from common.errors import UserError

CSV_COLUMNS = ["filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax"]
OUTPUT_COLUMNS = CSV_COLUMNS + ["group", "difficult"]
MIN_BOX_PX = 1.0
FRAME_MARK = "_frame_"


@dataclass(frozen=True)
class Box:
    """One object: absolute pixel corners, class name, and the ignore flag."""

    label: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    difficult: bool = False


@dataclass
class ImageAnn:
    """One image: where to read it, what to call it in the output, its boxes."""

    filename: str            # output name, relative (may contain '/')
    source: Path             # file to copy / embed
    width: int
    height: int
    group: str
    boxes: list[Box] = field(default_factory=list)


@dataclass
class BoxStats:
    """Counts of what box cleaning did, for the end-of-run summary."""

    clipped: int = 0
    degenerate: int = 0

    def add(self, other: "BoxStats") -> None:
        self.clipped += other.clipped
        self.degenerate += other.degenerate


def default_group(filename: str) -> str:
    """Group of an image without an explicit group: the video name before `_frame_`.

    EgoHands-style names `<VIDEO>_frame_NNNN.jpg` group by video; any other
    name is its own group (so a group split degrades to a per-image split).
    """
    base = PurePosixPath(filename).name
    if FRAME_MARK in base:
        return base.split(FRAME_MARK, 1)[0]
    return PurePosixPath(filename).stem


def clean_box(label: str, xmin: float, ymin: float, xmax: float, ymax: float,
              width: int, height: int, stats: BoxStats, difficult: bool = False,
              where: str = "") -> Box | None:
    """Clip a box to the image; None (counted as degenerate) if it collapses.

    Non-finite or inverted boxes are errors in the input, not noise: raise.
    """
    values = (xmin, ymin, xmax, ymax)
    if not all(math.isfinite(v) for v in values):
        raise UserError(f"{where}: box coordinates must be numbers, got {values}")
    if xmin > xmax or ymin > ymax:
        raise UserError(f"{where}: box has xmin > xmax or ymin > ymax: {values}")
    cx0, cy0 = min(max(xmin, 0.0), width), min(max(ymin, 0.0), height)
    cx1, cy1 = min(max(xmax, 0.0), width), min(max(ymax, 0.0), height)
    if (cx0, cy0, cx1, cy1) != values:
        stats.clipped += 1
    if cx1 - cx0 < MIN_BOX_PX or cy1 - cy0 < MIN_BOX_PX:
        stats.degenerate += 1
        return None
    return Box(label, float(cx0), float(cy0), float(cx1), float(cy1), difficult)


def check_relative_name(name: str, where: str) -> str:
    """A file name from an annotation must stay inside its images folder."""
    path = PurePosixPath(name.replace("\\", "/"))
    if not name or path.is_absolute() or ".." in path.parts or name.startswith(("/", "\\")):
        raise UserError(f"{where}: filename {name!r} must be a relative path inside the "
                        f"images folder")
    return str(path)


def _parse_number(value: str, column: str, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: column {column!r} must be a number, got {value!r}") from None
    if not math.isfinite(number):  # '1e400' parses as inf, 'nan' as nan
        raise UserError(f"{where}: column {column!r} must be a finite number, got {value!r}")
    return number


def _parse_flag(value: str | None, where: str) -> bool:
    text = (value or "").strip().lower()
    if text in ("", "0", "false", "no"):
        return False
    if text in ("1", "true", "yes"):
        return True
    raise UserError(f"{where}: column 'difficult' must be 0 or 1, got {value!r}")


def read_csv(csv_path: str | os.PathLike, images_dir: str | os.PathLike,
             stats: BoxStats | None = None) -> list[ImageAnn]:
    """Read an annotation CSV into ImageAnn records (images resolved in `images_dir`).

    Rows of one file must agree on width/height/group. Box rows are cleaned
    with `clean_box`; image files are checked to exist (their content is
    checked later, when the writer reads them).
    """
    csv_path, images_dir = Path(csv_path), Path(images_dir)
    stats = stats if stats is not None else BoxStats()
    if not csv_path.is_file():
        raise UserError(f"{csv_path}: annotation CSV not found")
    if not images_dir.is_dir():
        raise UserError(f"{images_dir}: images folder not found")
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{csv_path}: cannot read CSV: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise UserError(f"{csv_path}: missing column(s) {', '.join(missing)}; expected "
                        f"{','.join(CSV_COLUMNS)} (+ optional group, difficult)")
    reader.fieldnames = header
    images: dict[str, ImageAnn] = {}
    for line, row in enumerate(reader, start=2):
        where = f"{csv_path}:{line}"
        row = {k: (v or "").strip() for k, v in row.items() if k is not None}
        name = check_relative_name(row["filename"], where)
        width = _parse_number(row["width"], "width", where)
        height = _parse_number(row["height"], "height", where)
        if width <= 0 or height <= 0 or width != int(width) or height != int(height):
            raise UserError(f"{where}: width/height must be positive integers, "
                            f"got {row['width']!r}x{row['height']!r}")
        group = row.get("group") or default_group(name)
        image = images.get(name)
        if image is None:
            source = images_dir / name
            if not source.is_file():
                raise UserError(f"{where}: image {source} not found")
            image = images[name] = ImageAnn(name, source, int(width), int(height), group)
        elif (image.width, image.height, image.group) != (int(width), int(height), group):
            raise UserError(f"{where}: {name} has a different width/height/group than on "
                            f"an earlier row")
        label = row["class"]
        coords = [row[c] for c in ("xmin", "ymin", "xmax", "ymax")]
        if not label and not any(coords):
            continue  # image listed without objects
        if not label:
            raise UserError(f"{where}: empty 'class'")
        x0, y0, x1, y1 = (_parse_number(v, c, where)
                          for v, c in zip(coords, ("xmin", "ymin", "xmax", "ymax")))
        box = clean_box(label, x0, y0, x1, y1, image.width, image.height, stats,
                        difficult=_parse_flag(row.get("difficult"), where), where=where)
        if box is not None:
            image.boxes.append(box)
    if not images:
        raise UserError(f"{csv_path}: no annotation rows")
    return list(images.values())


def _fmt(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def csv_text(images: Iterable[ImageAnn]) -> str:
    """The CSV for `images`: OUTPUT_COLUMNS, one row per box, images without boxes omitted."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(OUTPUT_COLUMNS)
    for image in images:
        for box in image.boxes:
            writer.writerow([image.filename, image.width, image.height, box.label,
                             _fmt(box.xmin), _fmt(box.ymin), _fmt(box.xmax), _fmt(box.ymax),
                             image.group, int(box.difficult)])
    return out.getvalue()


def write_csv(path: str | os.PathLike, images: Iterable[ImageAnn]) -> None:
    """Write the CSV atomically: a crash never leaves a half CSV under `path`."""
    atomic_write_text(path, csv_text(images))
