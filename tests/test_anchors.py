"""Anchors against the OD API ssd_anchor_generator formula (and the zoo's own anchors)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from ssd.anchors import SsdAnchorSpec, generate_anchors, layer_box_specs

MAPS_300 = [(19, 19), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)]


def test_default_300_has_1917_anchors_with_exact_ends():
    anchors = generate_anchors(SsdAnchorSpec(), MAPS_300, (300, 300))
    assert anchors.shape == (1917, 4)
    # First anchor: lowest layer, cell (0, 0), the (0.1, 1.0) box.
    np.testing.assert_allclose(anchors[0], [0.5 / 19, 0.5 / 19, 0.1, 0.1], rtol=1e-6)
    # Second: same cell, (scale 0.2, aspect 2): h = 0.2/sqrt(2), w = 0.2*sqrt(2).
    np.testing.assert_allclose(anchors[1], [0.5 / 19, 0.5 / 19, 0.2 / math.sqrt(2), 0.2 * math.sqrt(2)], rtol=1e-6)
    # Last: 1x1 map, interpolated scale sqrt(0.95 * 1.0), aspect 1.
    s = math.sqrt(0.95)
    np.testing.assert_allclose(anchors[-1], [0.5, 0.5, s, s], rtol=1e-6)
    # Last but one: scale 0.95 at aspect 0.3333.
    np.testing.assert_allclose(anchors[-2], [0.5, 0.5, 0.95 / math.sqrt(0.3333), 0.95 * math.sqrt(0.3333)], rtol=1e-6)


def test_box_specs_counts():
    assert [len(s) for s in layer_box_specs(SsdAnchorSpec())] == [3, 6, 6, 6, 6, 6]
    assert [len(s) for s in layer_box_specs(SsdAnchorSpec(reduce_boxes_in_lowest_layer=False))] == [6] * 6


def test_matches_zoo_anchors(shared_dir):
    path = shared_dir / "weights" / "ssd_mobilenet_v1_0.75_depth_coco" / "anchors.npy"
    if not path.exists():
        pytest.skip("anchors.npy not in ../shared")
    np.testing.assert_allclose(generate_anchors(SsdAnchorSpec(), MAPS_300, (300, 300)), np.load(path), atol=1e-6)


def test_non_square_input_keeps_pixel_square_anchors():
    anchors = generate_anchors(SsdAnchorSpec(), [(15, 20), (8, 10), (4, 5), (2, 3), (1, 2), (1, 1)], (240, 320))
    first = anchors[0]
    assert first[2] * 240 == pytest.approx(first[3] * 320)
