"""Pascal VOC XML folders (LabelImg's output) -> annotation table.

LabelImg writes one XML per image, usually next to it, with `<filename>`,
`<size>` and `<object>`s holding `<name>`, `<difficult>` and a `<bndbox>`.
Images are looked up in `images_dir` when given, else next to the XML.
A `<size>` of 0 (LabelImg writes that when it never loaded the pixels) is
replaced by the real size from the image header.
"""
from __future__ import annotations

import os
from pathlib import Path

from common.errors import UserError
from data_prep.annotations import BoxStats, ImageAnn, check_relative_name, clean_box, \
    default_group


def _text(node, path: str, where: str, required: bool = True) -> str:
    found = node.find(path)
    if found is None or found.text is None or not found.text.strip():
        if required:
            raise UserError(f"{where}: missing <{path}>")
        return ""
    return found.text.strip()


def _number(node, path: str, where: str) -> float:
    text = _text(node, path, where)
    try:
        return float(text)
    except ValueError:
        raise UserError(f"{where}: <{path}> must be a number, got {text!r}") from None


def read_voc_file(xml_path: Path, images_dir: Path | None, stats: BoxStats) -> ImageAnn:
    """One LabelImg/VOC XML -> ImageAnn (image located and its size checked)."""
    from lxml import etree

    from data_prep.tfrecords import image_size

    where = str(xml_path)
    try:
        root = etree.parse(str(xml_path)).getroot()
    except (etree.XMLSyntaxError, OSError) as exc:
        raise UserError(f"{where}: cannot parse XML ({exc})") from None
    if root.tag != "annotation":
        raise UserError(f"{where}: root element is <{root.tag}>, expected <annotation>")
    name = check_relative_name(_text(root, "filename", where), where)
    folder = images_dir if images_dir is not None else xml_path.parent
    source = folder / name
    if not source.is_file():
        raise UserError(f"{where}: image {source} not found")
    actual = image_size(source)
    declared = (int(_number(root, "size/width", where)) if root.find("size/width") is not None
                else 0,
                int(_number(root, "size/height", where)) if root.find("size/height") is not None
                else 0)
    if declared != (0, 0) and declared != actual:
        raise UserError(f"{where}: <size> says {declared[0]}x{declared[1]} but {source} is "
                        f"{actual[0]}x{actual[1]}")
    width, height = actual
    image = ImageAnn(name, source, width, height, default_group(name))
    for index, obj in enumerate(root.findall("object"), start=1):
        owhere = f"{where} (object {index})"
        label = _text(obj, "name", owhere)
        difficult = _text(obj, "difficult", owhere, required=False) in ("1", "true")
        box = clean_box(label, _number(obj, "bndbox/xmin", owhere),
                        _number(obj, "bndbox/ymin", owhere), _number(obj, "bndbox/xmax", owhere),
                        _number(obj, "bndbox/ymax", owhere), width, height, stats,
                        difficult=difficult, where=owhere)
        if box is not None:
            image.boxes.append(box)
    return image


def read_voc_dir(voc_dir: str | os.PathLike, images_dir: str | os.PathLike | None = None,
                 stats: BoxStats | None = None) -> list[ImageAnn]:
    """Every `*.xml` under `voc_dir` (recursively, sorted) -> ImageAnn records."""
    voc_dir = Path(voc_dir)
    stats = stats if stats is not None else BoxStats()
    if not voc_dir.is_dir():
        raise UserError(f"--voc {voc_dir}: folder not found")
    images_path = Path(images_dir) if images_dir is not None else None
    if images_path is not None and not images_path.is_dir():
        raise UserError(f"--images {images_path}: folder not found")
    xml_files = sorted(voc_dir.rglob("*.xml"))
    if not xml_files:
        raise UserError(f"--voc {voc_dir}: no .xml files")
    images: list[ImageAnn] = []
    seen: dict[str, Path] = {}
    for xml_path in xml_files:
        image = read_voc_file(xml_path, images_path, stats)
        if image.filename in seen:
            raise UserError(f"{xml_path}: image {image.filename} is also annotated by "
                            f"{seen[image.filename]}")
        seen[image.filename] = xml_path
        images.append(image)
    return images
