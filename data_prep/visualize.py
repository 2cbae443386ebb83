"""Draw the written boxes on a few output images, to eyeball a conversion.

A wrong coordinate convention (x/y swapped, normalised vs pixels, wrong frame
to polygon pairing) is obvious in a picture and invisible in a CSV. Images are
read back from the output folder, i.e. exactly what training will see.
Only cv2.imencode + a file write: never a window, so it runs headless.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from common.atomic import atomic_write_bytes
from common.errors import UserError
from data_prep.annotations import ImageAnn
from data_prep.label_map import IGNORE_CLASS
from data_prep.splits import SPLITS

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

_COLORS = [(0, 255, 0), (255, 128, 0), (0, 128, 255), (255, 0, 255), (0, 255, 255)]
_IGNORE_COLOR = (160, 160, 160)


def pick(plan: dict[str, Sequence[ImageAnn]], count: int) -> list[tuple[str, ImageAnn]]:
    """`count` images spread evenly over all splits (deterministic)."""
    everything = [(split, image) for split in SPLITS for image in plan[split]]
    if count >= len(everything):
        return everything
    step = len(everything) / count
    return [everything[int(i * step)] for i in range(count)]


def png_name(split: str, image: ImageAnn) -> str:
    stem = image.filename.rsplit(".", 1)[0].replace("/", "__")
    return f"{split}__{stem}.png"


def draw(image_bgr: "np.ndarray", boxes: Sequence, class_names: Sequence[str]) -> "np.ndarray":
    """Boxes with their class name, one colour per class; ignore/difficult boxes in grey.

    Drawn with the detector's `draw_box`, so a prepared image and a detection look alike.
    Annotation maxima are exclusive pixel edges, hence the -1.
    """
    from detect.drawing import draw_box

    thickness = max(1, round(image_bgr.shape[1] / 640))
    for box in boxes:
        if box.label == IGNORE_CLASS or box.difficult:
            color = _IGNORE_COLOR
        else:
            idx = class_names.index(box.label) if box.label in class_names else 0
            color = _COLORS[idx % len(_COLORS)]
        draw_box(image_bgr, (box.xmin, box.ymin, box.xmax - 1, box.ymax - 1), box.label,
                 color, thickness)
    return image_bgr


def write_visualizations(out_dir: Path, plan: dict[str, Sequence[ImageAnn]], count: int,
                         progress: bool = True) -> int:
    """Write `count` PNGs to `<out>/visualize/`; existing ones are kept, others removed."""
    import cv2
    import numpy as np
    from tqdm import tqdm

    folder = out_dir / "visualize"
    folder.mkdir(parents=True, exist_ok=True)
    chosen = pick(plan, count)
    class_names = sorted({b.label for _, i in chosen for b in i.boxes})
    wanted = {png_name(split, image) for split, image in chosen}
    for old in folder.glob("*.png"):
        if old.name not in wanted:
            old.unlink()
    for split, image in tqdm(chosen, desc="visualize", unit="img", leave=False,
                             disable=not progress):
        target = folder / png_name(split, image)
        if target.exists():
            continue
        source = out_dir / "images" / split / image.filename
        pixels = cv2.imdecode(np.fromfile(source, dtype=np.uint8), cv2.IMREAD_COLOR)
        if pixels is None:
            raise UserError(f"{source}: unreadable image")
        ok, png = cv2.imencode(".png", draw(pixels, image.boxes, class_names))
        if not ok:
            raise UserError(f"{target}: could not encode PNG")
        atomic_write_bytes(target, png.tobytes())
    log.info("wrote %d visualization(s) to %s", len(chosen), folder)
    return len(chosen)
