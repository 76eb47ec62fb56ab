"""What the app shows: the sketch, the result, and the marks each mode draws over either (the
region the model asks about, the points and strokes, the scribbles), each as uint8
``(H, W, 3)`` at the sketch's full size.

The marks never cover the sketch's lines: the ink pixels (:attr:`tinct.colorizer.Prepared.ink`)
keep the picture's own values, so the lines the user sees stay exactly the lines downloaded.

The pixels of a sketch or a result are converted from the float tensor once
(:func:`base_picture`) and kept, read-only, while that tensor lives: switching the tab or
ticking "show the sketch" costs no conversion, and a hint update converts its new result once.
:func:`png_bytes` encodes a picture for the browser, lossless and fast.
"""

from __future__ import annotations

import struct
import threading
import weakref
import zlib

import cv2
import numpy as np
import torch

from tinct.app.session import Session
from tinct.hintfile import hint_pixels, scribble_mask

__all__ = ["HIGHLIGHT", "HIGHLIGHT_ALPHA", "MARK_DARK", "MARK_LIGHT", "SCRIBBLE", "base_picture", "draw_hints",
           "draw_scribbles", "highlight_region", "png_bytes", "result_picture", "sketch_picture"]

HIGHLIGHT = (255, 0, 170)  # tint and outline of the region the model asks about
HIGHLIGHT_ALPHA = 0.55
SCRIBBLE = HIGHLIGHT  # scribbles have no colour of their own: they are drawn in the app's marker colour
#: the two rings around each point and stroke (inner light, outer dark), so that a hint shows on
#: any colour, its own included
MARK_LIGHT = (255, 255, 255)
MARK_DARK = (40, 40, 40)

#: how many converted pictures are kept (each one while its tensor lives): a session's sketch and
#: result, for a few sessions
_KEPT = 8
_pixels: dict[int, tuple[weakref.ref, np.ndarray]] = {}
_pixels_lock = threading.Lock()


def _uint8(image: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` in [0, 1] -> uint8 ``(H, W, 3)``, exactly as :func:`tinct.image.to_numpy_image`
    (and so the downloads) round it, with fewer full-size copies."""
    values = image.detach().float().clamp(0, 1)
    values.mul_(255.0).round_()
    planes = values.to(torch.uint8).cpu().numpy()
    return cv2.merge(list(planes))


def _pixels_of(image: torch.Tensor) -> np.ndarray:
    """:func:`_uint8` of ``image``, read-only, converted once while ``image`` lives."""
    key = id(image)
    with _pixels_lock:
        kept = _pixels.get(key)
        if kept is not None and kept[0]() is image:
            return kept[1]
    array = _uint8(image)
    array.flags.writeable = False

    def forget(ref, key=key):
        with _pixels_lock:
            if _pixels.get(key, (None,))[0] is ref:
                del _pixels[key]

    with _pixels_lock:
        while len(_pixels) >= _KEPT:
            del _pixels[next(iter(_pixels))]
        _pixels[key] = (weakref.ref(image, forget), array)
    return array


def base_picture(session: Session) -> np.ndarray:
    """What the app's picture shows under the marks, read-only uint8 ``(H, W, 3)``: the latest
    result, or the sketch before one or when ``session.view.sketch`` asks for it."""
    if session.view.sketch or session.result is None:
        return _pixels_of(session.prepared.original)
    return _pixels_of(session.result.image)


def sketch_picture(session: Session) -> np.ndarray:
    """The uploaded sketch as uint8 ``(H, W, 3)`` (a copy of its own)."""
    return _pixels_of(session.prepared.original).copy()


def result_picture(session: Session) -> np.ndarray | None:
    """The latest colorization as uint8 ``(H, W, 3)`` (a copy of its own), or None before the first."""
    return None if session.result is None else _pixels_of(session.result.image).copy()


def _thickness(session: Session) -> int:
    """The width in px of an outline or a ring: about 2 px where the picture is shown 512 px wide."""
    return max(1, round(max(session.height, session.width) / 256))


def _box(mask_rows: np.ndarray, mask_cols: np.ndarray, margin: int, height: int, width: int):
    """The slices of the bounding box of the pixels ``(rows, cols)``, ``margin`` px wider on every
    side, inside the picture."""
    top, bottom = int(mask_rows.min()) - margin, int(mask_rows.max()) + 1 + margin
    left, right = int(mask_cols.min()) - margin, int(mask_cols.max()) + 1 + margin
    return slice(max(0, top), min(height, bottom)), slice(max(0, left), min(width, right))


def _grown(mask: np.ndarray, by: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * by + 1, 2 * by + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def _mark_shape(picture: np.ndarray, ink: np.ndarray, rows, cols, color, thickness: int) -> None:
    """Paint one point or stroke (pixels ``rows, cols``) in ``color`` into ``picture``, ringed light
    then dark, leaving the ink as it is."""
    if np.size(rows) == 0 or np.size(cols) == 0:
        return
    height, width = ink.shape
    box = _box(np.asarray(rows), np.asarray(cols), 2 * thickness, height, width)
    shape = np.zeros((box[0].stop - box[0].start, box[1].stop - box[1].start), bool)
    shape[np.asarray(rows) - box[0].start, np.asarray(cols) - box[1].start] = True
    inner = _grown(shape, thickness)
    outer = _grown(shape, 2 * thickness)
    paper = ~ink[box]
    crop = picture[box]
    crop[outer & ~inner & paper] = MARK_DARK
    crop[inner & ~shape & paper] = MARK_LIGHT
    crop[shape & paper] = np.round(np.asarray(color) * 255).astype(np.uint8)


def draw_hints(session: Session, picture: np.ndarray | None = None) -> np.ndarray:
    """``picture`` (default: the sketch) with the session's points and strokes painted in their
    colours, each ringed light then dark so that it shows on its own colour, the lines left as they
    are: a new uint8 ``(H, W, 3)``. Their pixels come from the latest result when it painted these
    hints (rasterised once per update, :class:`tinct.colorizer.Raster`), else they are rasterised here."""
    result = session.result
    if result is not None and result.raster is not None and result.hints == session.hints:
        shapes = result.raster.full
    else:
        shapes = hint_pixels(session.hints, session.height, session.width)
    picture = sketch_picture(session) if picture is None else picture.copy()
    thickness, ink = _thickness(session), session.prepared.ink
    for rows, cols, color in shapes:
        _mark_shape(picture, ink, rows, cols, color, thickness)
    return picture


def draw_scribbles(session: Session, picture: np.ndarray | None = None) -> np.ndarray:
    """``picture`` (default: the latest result, the sketch before one) with the scribbles drawn over
    it in :data:`SCRIBBLE`, at their width, the lines left as they are: a new uint8 ``(H, W, 3)``.
    A scribble goes over an edge where colour leaked, so it is drawn where the leak shows."""
    if picture is None:
        picture = result_picture(session)
        picture = sketch_picture(session) if picture is None else picture
    else:
        picture = picture.copy()
    if session.hints.scribbles:
        picture[scribble_mask(session.hints, session.height, session.width) & ~session.prepared.ink] = SCRIBBLE
    return picture


#: uint8 -> uint8 per channel: a value tinted towards HIGHLIGHT by HIGHLIGHT_ALPHA, rounded
_TINT = np.round((1 - HIGHLIGHT_ALPHA) * np.arange(256)[:, None] + HIGHLIGHT_ALPHA * np.asarray(HIGHLIGHT)
                 ).astype(np.uint8)


def _given_colours(session: Session) -> np.ndarray:
    """The sketch with the region colours given so far multiplied into their regions."""
    picture = sketch_picture(session).astype(np.float32)
    prepared = session.prepared
    paint = np.ones_like(picture)
    for given, color in enumerate(session.hints.regions[: len(prepared.questions)]):
        if color is not None:  # later questions (a region on its own) win, as in the result
            paint[prepared.question_mask(given)] = np.asarray(color, np.float32)
    return np.clip((picture * paint).round(), 0, 255).astype(np.uint8)


def highlight_region(session: Session, rank: int | None = None, *, picture: np.ndarray | None = None) -> np.ndarray:
    """``picture`` with region ``rank`` (default: the one asked about now) tinted and outlined in
    magenta (the outline runs along the inside of its lines), the lines left as they are: a new
    uint8 ``(H, W, 3)``. Default picture: the sketch
    with the colours given so far multiplied into their regions (the app draws over the result,
    which has them)."""
    prepared = session.prepared
    if prepared.guide_regions is None:
        return sketch_picture(session) if picture is None else picture.copy()
    picture = _given_colours(session) if picture is None else picture.copy()
    rank = session.current_region if rank is None else rank
    if rank is None or not 0 <= rank < len(prepared.questions):
        return picture
    inside = prepared.question_mask(rank)
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    if rows.size == 0:
        return picture
    thickness = _thickness(session)
    box = _box(rows, cols, thickness, *inside.shape)
    marked, crop = inside[box] & ~prepared.ink[box], picture[box]  # its paper: the lines stay as they are
    kernel = np.ones((2 * thickness + 1, 2 * thickness + 1), np.uint8)
    outline = marked & ~cv2.erode(marked.astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE).astype(bool)
    tinted = marked & ~outline
    crop[tinted] = _TINT[crop[tinted], np.arange(3)]
    crop[outline] = HIGHLIGHT  # along the lines, inside them
    return picture


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(picture: np.ndarray) -> bytes:
    """uint8 ``(H, W, 3)`` as a PNG file's bytes, lossless, made for speed rather than size: every
    row filtered "Up" (its difference from the row above, which flat colours make mostly zeros)
    and compressed at zlib level 1. At 2048 x 2048 px this takes about a third of the time of
    PIL's ``compress_level=1`` (which tries the filters on every row), for a file as small."""
    if picture.dtype != np.uint8 or picture.ndim != 3 or picture.shape[2] != 3:
        raise ValueError(f"expected a uint8 (H, W, 3) picture, got {picture.dtype} {picture.shape}")
    height, width, _ = picture.shape
    flat = picture.reshape(height, width * 3)
    rows = np.empty((height, width * 3 + 1), np.uint8)
    rows[:, 0] = 2  # the filter of each row: Up (the row above the first is zeros)
    rows[0, 1:] = flat[0]
    np.subtract(flat[1:], flat[:-1], out=rows[1:, 1:])  # modulo 256, as PNG wants
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows, 1))
            + _chunk(b"IEND", b""))
