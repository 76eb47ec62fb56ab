"""Helpers shared by the colorizer, ORA and CLI tests (imported by name from tests/)."""

import cv2
import numpy as np
import torch
from method_helpers import calibrated, random_batch

from tinct.methods.base import Guidance, Method
from tinct.methods.guiding_painter import Config as GuidingPainterConfig
from tinct.methods.guiding_painter import GuidingPainter
from tinct.methods.point_hints import Config as PointHintsConfig
from tinct.methods.point_hints import PointHints

NUM_SEGMENTS = 6


def tiny_guiding_painter(seed=0):
    """A tiny GuidingPainter with BatchNorm statistics of a random batch (so that its
    output depends on its inputs in eval mode)."""
    torch.manual_seed(seed)
    model = GuidingPainter(GuidingPainterConfig(num_segments=NUM_SEGMENTS, base_channels=8, disc_channels=8))
    return calibrated(model, random_batch(seed))


def tiny_point_hints(seed=0):
    torch.manual_seed(seed)
    model = PointHints(PointHintsConfig(base_channels=8, disc_channels=8))
    return calibrated(model, random_batch(seed))


def drawn_sketch(height, width, *, thickness=None):
    """uint8 (H, W) line art, 255 = paper: an anti-aliased circle (left half) and a rectangle
    (right half) on white. Returns the sketch and (row, col) points inside the circle, inside
    the rectangle and in the background."""
    canvas = np.full((height, width), 255, np.uint8)
    scale = min(height, width)
    thickness = thickness or max(2, scale // 40)
    centre = (width // 4, height // 2)
    radius = int(scale * 0.3)
    cv2.circle(canvas, centre, radius, 0, thickness=thickness, lineType=cv2.LINE_AA)
    top_left = (width // 2 + width // 10, height // 5)
    bottom_right = (width - width // 10, height - height // 5)
    cv2.rectangle(canvas, top_left, bottom_right, 0, thickness=thickness, lineType=cv2.LINE_AA)
    inside_circle = (centre[1], centre[0])
    inside_rectangle = ((top_left[1] + bottom_right[1]) // 2, (top_left[0] + bottom_right[0]) // 2)
    background = (2, 2)
    return canvas, {"circle": inside_circle, "rectangle": inside_rectangle, "background": background}


class MeanReference(Method):
    """A stand-in reference-based model: paints the reference's mean colour everywhere;
    ``expect`` is the reference shape it insists on (None: any)."""

    name = "mean_reference"
    guidance = Guidance(reference=True, required=("reference",))
    protocol = "reference"

    def __init__(self, expect=None):
        super().__init__()
        self.expect = expect
        self.scale = torch.nn.Parameter(torch.ones(()))

    def paint(self, inputs):
        reference = inputs.reference
        assert self.expect is None or reference.shape == self.expect
        return (reference.mean(dim=(2, 3), keepdim=True) * self.scale).expand(-1, -1, *inputs.sketch.shape[-2:])
