"""Anchors exactly as the Object Detection API's `ssd_anchor_generator` makes them.

Detection checkpoints from the model zoo were trained against these anchors, in
this order (feature map, grid row, grid column, box spec); any deviation would
make the pretrained box encodings point at the wrong places.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class SsdAnchorSpec:
    num_layers: int = 6
    min_scale: float = 0.2
    max_scale: float = 0.95
    aspect_ratios: tuple[float, ...] = (1.0, 2.0, 0.5, 3.0, 0.3333)
    scales: tuple[float, ...] = ()
    interpolated_scale_aspect_ratio: float = 1.0
    reduce_boxes_in_lowest_layer: bool = True
    base_anchor_height: float = 1.0
    base_anchor_width: float = 1.0


def layer_box_specs(spec: SsdAnchorSpec) -> list[list[tuple[float, float]]]:
    """(scale, aspect ratio) pairs per feature map, in the OD API's order."""
    if spec.scales:
        if len(spec.scales) != spec.num_layers:
            raise ValueError(f"anchor_generator: {len(spec.scales)} scales for {spec.num_layers} layers")
        scales = list(spec.scales) + [1.0]
    elif spec.num_layers == 1:
        scales = [spec.min_scale, 1.0]
    else:
        scales = [spec.min_scale + (spec.max_scale - spec.min_scale) * i / (spec.num_layers - 1)
                  for i in range(spec.num_layers)] + [1.0]
    specs = []
    for layer, (scale, scale_next) in enumerate(zip(scales[:-1], scales[1:])):
        if layer == 0 and spec.reduce_boxes_in_lowest_layer:
            layer_specs = [(0.1, 1.0), (scale, 2.0), (scale, 0.5)]
        else:
            layer_specs = [(scale, ar) for ar in spec.aspect_ratios]
            if spec.interpolated_scale_aspect_ratio > 0.0:
                layer_specs.append((math.sqrt(scale * scale_next), spec.interpolated_scale_aspect_ratio))
        specs.append(layer_specs)
    return specs


def num_anchors_per_location(spec: SsdAnchorSpec) -> list[int]:
    return [len(s) for s in layer_box_specs(spec)]


def generate_anchors(spec: SsdAnchorSpec,
                     feature_map_sizes: Sequence[tuple[int, int]],
                     image_size: tuple[int, int]) -> np.ndarray:
    """Anchors as float32 [A, 4] rows (ycenter, xcenter, height, width), normalised.

    For non-square inputs the base size is scaled so anchors stay square in
    pixels, as the OD API's multiple_grid_anchor_generator does.
    """
    box_specs = layer_box_specs(spec)
    if len(box_specs) != len(feature_map_sizes):
        raise ValueError(f"{len(feature_map_sizes)} feature maps for {len(box_specs)} anchor layers")
    im_h, im_w = float(image_size[0]), float(image_size[1])
    min_side = min(im_h, im_w)
    base_h = spec.base_anchor_height * min_side / im_h
    base_w = spec.base_anchor_width * min_side / im_w
    out = []
    for (grid_h, grid_w), layer_specs in zip(feature_map_sizes, box_specs):
        scales = np.array([s for s, _ in layer_specs], dtype=np.float64)
        ratio_sqrts = np.sqrt(np.array([a for _, a in layer_specs], dtype=np.float64))
        heights = scales / ratio_sqrts * base_h
        widths = scales * ratio_sqrts * base_w
        stride_y, stride_x = 1.0 / grid_h, 1.0 / grid_w
        y_centers = np.arange(grid_h) * stride_y + 0.5 * stride_y
        x_centers = np.arange(grid_w) * stride_x + 0.5 * stride_x
        yy, xx = np.meshgrid(y_centers, x_centers, indexing="ij")          # [H, W]
        n = len(layer_specs)
        grid = np.stack([
            np.repeat(yy[..., None], n, axis=2),
            np.repeat(xx[..., None], n, axis=2),
            np.broadcast_to(heights, (grid_h, grid_w, n)),
            np.broadcast_to(widths, (grid_h, grid_w, n)),
        ], axis=-1)
        out.append(grid.reshape(-1, 4))
    return np.concatenate(out, axis=0).astype(np.float32)


def center_size_to_corners(anchors: np.ndarray) -> np.ndarray:
    """(yc, xc, h, w) -> (ymin, xmin, ymax, xmax), the layout BoxList expects."""
    yc, xc, h, w = anchors.T
    return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=1).astype(np.float32)
