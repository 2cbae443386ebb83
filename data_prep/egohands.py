"""EgoHands: safe zip extraction and polygons.mat -> box table.

EgoHands (Bambach et al., ICCV 2015) ships `egohands_data.zip` with
`_LABELLED_SAMPLES/<VIDEO>/frame_NNNN.jpg` and one `polygons.mat` per video: a
1 x frames MATLAB struct array `polygons` with fields myleft, myright, yourleft,
yourright, each an N x 2 array of (x, y) points. The k-th struct belongs to the
k-th frame in sorted name order. An empty field or one with fewer than 3
points means that hand is not visible. Each polygon becomes the min/max box of
its points, clipped to the image; boxes that collapse are counted as degenerate.
"""
from __future__ import annotations

import logging
import zlib
from pathlib import Path, PurePosixPath, PureWindowsPath

from common.atomic import atomic_write_text
from common.errors import UserError
from data_prep.annotations import BoxStats, ImageAnn, clean_box

log = logging.getLogger(__name__)

HAND_FIELDS = ("myleft", "myright", "yourleft", "yourright")
LABELLED = "_LABELLED_SAMPLES"
EXTRACT_MARKER = ".extracted"
# What prep_egohands itself puts in --out before the dataset writer runs.
OWN_FILES = ("egohands_data.zip", "egohands_data.zip.part", "raw")
OFFICIAL_URL = "http://vision.soic.indiana.edu/egohands_files/egohands_data.zip"


def class_names(classes: int) -> list[str]:
    """--classes 1 -> ['hand']; --classes 4 -> the four hand roles."""
    if classes == 1:
        return ["hand"]
    if classes == 4:
        return list(HAND_FIELDS)
    raise UserError(f"--classes must be 1 or 4, got {classes}")


def _unsafe(name: str) -> bool:
    """True if a zip entry name could land outside the extraction folder."""
    posix = PurePosixPath(name.replace("\\", "/"))
    return (name.startswith(("/", "\\")) or posix.is_absolute()
            or bool(PureWindowsPath(name).drive) or ".." in posix.parts)


def safe_extract(zip_path: Path, dest: Path, progress: bool = True) -> Path:
    """Extract `zip_path` into `dest` unless `dest` holds a finished extraction of it.

    Every entry is checked before anything is written: an absolute path or a
    `..` component (zip-slip) rejects the whole archive. The marker file is
    written last, so an interrupted extraction is redone from the start.
    """
    import zipfile

    from tqdm import tqdm

    zip_path, dest = Path(zip_path), Path(dest)
    if not zip_path.is_file():
        raise UserError(f"--zip {zip_path}: file not found")
    stat = zip_path.stat()
    stamp = f"{zip_path.resolve()} {stat.st_size} {stat.st_mtime_ns}\n"
    marker = dest / EXTRACT_MARKER
    if marker.exists() and marker.read_text() == stamp:
        log.info("%s already extracted to %s", zip_path.name, dest)
        return dest
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = archive.infolist()
            for info in members:
                if _unsafe(info.filename):
                    raise UserError(f"{zip_path}: refusing entry {info.filename!r}, it would "
                                    f"be written outside {dest}")
            dest.mkdir(parents=True, exist_ok=True)
            root = dest.resolve()
            total = sum(i.file_size for i in members)
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"extract {zip_path.name}",
                      leave=False, disable=not progress) as bar:
                for info in members:
                    target = (root / info.filename).resolve()
                    if target != root and root not in target.parents:
                        raise UserError(f"{zip_path}: refusing entry {info.filename!r}, it "
                                        f"would be written outside {dest}")
                    archive.extract(info, root)
                    bar.update(info.file_size)
    except zipfile.BadZipFile as exc:
        raise UserError(f"{zip_path}: corrupt or not a zip file ({exc})") from None
    except (zlib.error, EOFError) as exc:
        raise UserError(f"{zip_path}: corrupt zip data ({exc})") from None
    atomic_write_text(marker, stamp)
    log.info("extracted %d entries of %s to %s", len(members), zip_path.name, dest)
    return dest


def find_labelled(root: Path) -> Path:
    """The `_LABELLED_SAMPLES` folder, at the top or one level down."""
    for candidate in [root / LABELLED, *sorted(root.glob(f"*/{LABELLED}"))]:
        if candidate.is_dir():
            return candidate
    raise UserError(f"{root}: no {LABELLED} folder in the extracted zip; is it the "
                    f"EgoHands egohands_data.zip?")


def load_polygons(mat_path: Path) -> list[dict[str, object]]:
    """One {field: array} dict per frame from a polygons.mat, in frame order."""
    import numpy as np
    import scipy.io

    try:
        content = scipy.io.loadmat(str(mat_path))
    except Exception as exc:  # scipy raises ValueError/TypeError/OSError/... on bad files
        raise UserError(f"{mat_path}: cannot read MATLAB file ({exc})") from None
    if "polygons" not in content:
        raise UserError(f"{mat_path}: no variable 'polygons' (found: "
                        f"{', '.join(k for k in content if not k.startswith('__')) or 'none'})")
    polygons = content["polygons"]
    names = polygons.dtype.names or ()
    if not isinstance(polygons, np.ndarray) or not names:
        raise UserError(f"{mat_path}: 'polygons' is not a struct array")
    missing = [f for f in HAND_FIELDS if f not in names]
    if missing:
        raise UserError(f"{mat_path}: 'polygons' lacks field(s) {', '.join(missing)}")
    # MATLAB is column-major: for a 1 x N (or N x 1) array this is just frame order.
    return [{f: entry[f] for f in HAND_FIELDS} for entry in polygons.ravel(order="F")]


def polygon_points(value: object, where: str):
    """(n, 2) float array of the finite points of one polygon field."""
    import numpy as np

    while isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        value = value.item()  # cell-wrapped arrays
    try:
        points = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise UserError(f"{where}: polygon is not numeric") from None
    if points.size == 0:
        return points.reshape(0, 2)
    if points.ndim != 2 or points.shape[1] != 2:
        raise UserError(f"{where}: polygon must be an N x 2 array of (x, y), "
                        f"got shape {points.shape}")
    return points[np.isfinite(points).all(axis=1)]


def video_annotations(video_dir: Path, classes: int, stats: BoxStats,
                      counts: dict[str, int]) -> list[ImageAnn]:
    """Boxes of every frame of one video folder, named `<VIDEO>_frame_NNNN.jpg`."""
    from data_prep.tfrecords import image_size

    mat_path = video_dir / "polygons.mat"
    if not mat_path.is_file():
        raise UserError(f"{video_dir}: no polygons.mat in this video folder")
    frames = sorted(p for p in video_dir.iterdir()
                    if p.suffix.lower() == ".jpg" and p.name.startswith("frame_"))
    if not frames:
        raise UserError(f"{video_dir}: no frame_*.jpg files")
    polygons = load_polygons(mat_path)
    if len(polygons) != len(frames):
        raise UserError(f"{mat_path}: {len(polygons)} polygon entries but {len(frames)} "
                        f"frame_*.jpg files in {video_dir}")
    video = video_dir.name
    images = []
    for frame, entry in zip(frames, polygons):
        width, height = image_size(frame)
        image = ImageAnn(f"{video}_{frame.name}", frame, width, height, video)
        for field_name in HAND_FIELDS:
            where = f"{mat_path} ({frame.name}, {field_name})"
            points = polygon_points(entry[field_name], where)
            if len(points) < 3:
                counts["no_polygon"] += 1
                continue
            label = "hand" if classes == 1 else field_name
            box = clean_box(label, float(points[:, 0].min()), float(points[:, 1].min()),
                            float(points[:, 0].max()), float(points[:, 1].max()),
                            width, height, stats, where=where)
            if box is not None:
                image.boxes.append(box)
        images.append(image)
    return images


def load_egohands(root: Path, classes: int, progress: bool = True
                  ) -> tuple[list[ImageAnn], BoxStats, dict[str, int]]:
    """All labelled frames under an extracted zip: (images, box stats, counts)."""
    from tqdm import tqdm

    labelled = find_labelled(Path(root))
    videos = sorted(p for p in labelled.iterdir() if p.is_dir())
    if not videos:
        raise UserError(f"{labelled}: no video folders")
    stats = BoxStats()
    counts = {"videos": len(videos), "no_polygon": 0}
    images: list[ImageAnn] = []
    for video in tqdm(videos, desc="polygons.mat", unit="video", leave=False,
                      disable=not progress):
        images.extend(video_annotations(video, classes, stats, counts))
    log.info("read %d frames of %d videos: %d boxes, %d empty/<3-point polygons, "
             "%d degenerate skipped", len(images), len(videos),
             sum(len(i.boxes) for i in images), counts["no_polygon"], stats.degenerate)
    return images, stats, counts


def default_zip_path(out_dir: Path) -> Path:
    return Path(out_dir) / "egohands_data.zip"


def ensure_zip(zip_arg: str | None, out_dir: Path, url: str, sha256: str | None,
               progress: bool = True) -> Path:
    """The local zip: `--zip` as given, else downloaded (resumably) into `out_dir`."""
    if zip_arg:
        path = Path(zip_arg)
        if not path.is_file():
            raise UserError(f"--zip {path}: file not found")
        return path
    from common.download import DownloadError, download

    dest = default_zip_path(out_dir)
    try:
        return download(url, dest, sha256=sha256, progress=progress)
    except DownloadError as exc:
        raise UserError(f"{exc}. Download {url} yourself (about 1.3 GB) and pass "
                        f"--zip PATH") from None

