"""What the app shows: the sketch, the region the model asks about, the hints drawn over the
sketch, the scribbles drawn over the result and the result, each as uint8 ``(H, W, 3)`` at the
sketch's full size."""

from __future__ import annotations

import cv2
import numpy as np

from tinct.app.session import Session
from tinct.hintfile import hint_pixels, scribble_mask
from tinct.image import to_numpy_image

__all__ = ["HIGHLIGHT", "HIGHLIGHT_ALPHA", "SCRIBBLE", "draw_hints", "draw_scribbles", "highlight_region",
           "result_picture", "sketch_picture"]

HIGHLIGHT = (255, 0, 170)  # tint and outline of the region the model asks about
HIGHLIGHT_ALPHA = 0.55
SCRIBBLE = HIGHLIGHT  # scribbles have no colour of their own: they are drawn in the app's marker colour


def sketch_picture(session: Session) -> np.ndarray:
    """The uploaded sketch as uint8 ``(H, W, 3)``."""
    return np.ascontiguousarray(to_numpy_image(session.prepared.original))


def result_picture(session: Session) -> np.ndarray | None:
    """The latest colorization as uint8 ``(H, W, 3)``, or None before the first."""
    return None if session.result is None else np.ascontiguousarray(to_numpy_image(session.result.image))


def highlight_region(session: Session, rank: int | None = None) -> np.ndarray:
    """The sketch with the colours given so far multiplied into their regions and region
    ``rank`` (default: the one asked about now) tinted and outlined in magenta: uint8 ``(H, W, 3)``."""
    picture = sketch_picture(session).astype(np.float32)
    prepared = session.prepared
    if prepared.guide_regions is None:
        return picture.astype(np.uint8)
    paint = np.ones_like(picture)
    for given, color in enumerate(session.hints.regions[: len(prepared.questions)]):
        if color is not None:  # later questions (a region on its own) win, as in the result
            paint[prepared.question_mask(given)] = np.asarray(color, np.float32)
    picture *= paint
    rank = session.current_region if rank is None else rank
    if rank is not None and 0 <= rank < len(prepared.questions):
        inside = prepared.question_mask(rank)
        tint = np.asarray(HIGHLIGHT, np.float32)
        picture[inside] = (1 - HIGHLIGHT_ALPHA) * picture[inside] + HIGHLIGHT_ALPHA * tint
        thickness = max(1, round(max(session.height, session.width) / 256))
        kernel = np.ones((2 * thickness + 1, 2 * thickness + 1), np.uint8)
        outline = inside & ~cv2.erode(inside.astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE).astype(bool)
        picture[outline] = tint
    return np.clip(picture.round(), 0, 255).astype(np.uint8)


def draw_hints(session: Session) -> np.ndarray:
    """The sketch with its points and strokes painted in their colours: uint8 ``(H, W, 3)``.
    Their pixels come from the latest result when it painted these hints (rasterised once per
    update, :class:`tinct.colorizer.Raster`), else they are rasterised here."""
    result = session.result
    if result is not None and result.raster is not None and result.hints == session.hints:
        shapes = result.raster.full
    else:
        shapes = hint_pixels(session.hints, session.height, session.width)
    picture = sketch_picture(session)
    for rows, cols, color in shapes:
        picture[rows, cols] = np.round(np.asarray(color) * 255).astype(np.uint8)
    return picture


def draw_scribbles(session: Session) -> np.ndarray:
    """The latest result (the sketch before one) with the scribbles drawn over it in
    :data:`SCRIBBLE`, at their width: uint8 ``(H, W, 3)``. A scribble goes over an edge where
    colour leaked, so it is drawn where the leak shows."""
    picture = result_picture(session)
    picture = sketch_picture(session) if picture is None else picture
    if session.hints.scribbles:
        picture[scribble_mask(session.hints, session.height, session.width)] = SCRIBBLE
    return picture
