"""Photoshop (``.psd``) files: a colorization as layers that Photoshop, Krita and GIMP open.

Written with psd-tools (https://psd-tools.readthedocs.io), never by hand. The layers are
those of the OpenRaster file (:meth:`tinct.colorizer.Result.save`), bottom to top:

- ``colorized``: the final image, hidden;
- ``flat colours``: one colour per region, the background clear with ``transparent``
  (otherwise the paper is part of it); with ``per_color``, one layer per distinct colour
  instead, ``flat #rrggbb``, each holding the pixels of its colour on transparency, largest
  area lowest, so that a colourist can select an area by its layer and recolour it;
- ``lines``: the line pixels kept exactly in the sketch's own colour, the lighter line
  pixels black with alpha = darkness, transparent elsewhere (:meth:`Result.line_layer`).

Every layer is 8-bit RGBA, normal blending, full opacity, cropped to its non-transparent
pixels (its offset says where they go). The merged image, what viewers without layer
support show, is composited by psd-tools from the visible layers, so it is the final image
(within rounding, 1/255); it keeps its transparency: the document is RGBA and marked as
saving merged transparency, so that readers take the fourth channel as the image's alpha,
not as a saved selection.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from psd_tools import PSDImage
from psd_tools.api.layers import PixelLayer
from psd_tools.constants import Tag
from scipy import ndimage

from tinct.color import format_color

if TYPE_CHECKING:
    from tinct.colorizer import Result

__all__ = ["MAX_COLOR_LAYERS", "color_layers", "write_psd"]

MAX_COLOR_LAYERS = 256


def _cropped(pixels: np.ndarray) -> tuple[np.ndarray, int, int]:
    """The part of ``pixels`` ``(H, W, 4)`` holding every pixel with alpha > 0 and its
    (top, left); ``(0, 0, 4)`` at (0, 0) when there is none."""
    rows = np.flatnonzero(pixels[..., 3].any(axis=1))
    cols = np.flatnonzero(pixels[..., 3].any(axis=0))
    if not len(rows):
        return pixels[:0, :0], 0, 0
    return pixels[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], int(rows[0]), int(cols[0])


def color_layers(flats: np.ndarray, *,
                 max_colors: int = MAX_COLOR_LAYERS) -> Iterator[tuple[str, np.ndarray, int, int]]:
    """Split uint8 RGBA ``flats`` ``(H, W, 4)`` by colour: ``(hex, pixels, top, left)`` per
    distinct colour of its opaque pixels (alpha > 0), largest area first, ``pixels`` the
    colour's bounding box holding its pixels (their alpha kept) on transparency, made one at a
    time. Raises ValueError at once when there are more than ``max_colors`` colours."""
    if flats.dtype != np.uint8 or flats.ndim != 3 or flats.shape[2] != 4:
        raise ValueError(f"flats must be a uint8 (H, W, 4) array, got {flats.dtype} {flats.shape}")
    opaque = flats[..., 3] > 0
    keys = flats[..., :3].astype(np.int32) @ np.array([1 << 16, 1 << 8, 1], np.int32)  # (H, W) 0xRRGGBB
    colors, inverse, counts = np.unique(keys[opaque], return_inverse=True, return_counts=True)
    if len(colors) > max_colors:
        raise ValueError(f"the flat colours hold {len(colors)} distinct colours, more than {max_colors}: too many "
                         f"for one layer per colour (write a single flat-colour layer instead)")
    labels = np.zeros(keys.shape, np.int32)
    labels[opaque] = inverse.ravel() + 1
    boxes = ndimage.find_objects(labels)

    def layer(index: int) -> tuple[str, np.ndarray, int, int]:
        box = boxes[index]
        inside = labels[box] == index + 1
        pixels = np.zeros(inside.shape + (4,), np.uint8)
        pixels[inside] = flats[box][inside]
        rgb = [(int(colors[index]) >> shift & 0xFF) / 255 for shift in (16, 8, 0)]
        return format_color(rgb), pixels, box[0].start, box[1].start

    return (layer(index) for index in np.argsort(-counts, kind="stable"))


def _add(document: PSDImage, name: str, pixels: np.ndarray, *, top: int = 0, left: int = 0,
         visible: bool = True, crop: bool = True) -> None:
    """Put ``pixels`` (uint8 RGBA) on top of ``document``'s layers, at (top, left)."""
    if crop:
        pixels, top_in, left_in = _cropped(pixels)
        top, left = top + top_in, left + left_in
    layer = PixelLayer.frompil(Image.fromarray(pixels), document, name, top=top, left=left)  # appends it
    layer.name = name  # also as the Unicode name, which Photoshop reads first
    layer.visible = visible


def write_psd(path: str | os.PathLike, result: Result, *, transparent: bool = False, per_color: bool = False,
              max_colors: int = MAX_COLOR_LAYERS) -> Path:
    """Write ``result`` as a layered Photoshop file (module docstring).

    transparent: the background clear (as :meth:`Result.rgba`); per_color: one layer per
    distinct flat colour instead of one flat-colour layer (ValueError past ``max_colors``
    colours). The file is written to a temporary name first, so a failed write leaves no
    partial file and an existing file is only replaced by a complete one.
    """
    path = Path(path)
    final = result.rgba(transparent=transparent)
    flats = result.flat_layer(transparent=transparent)
    colors = color_layers(flats, max_colors=max_colors) if per_color else None  # counted (and checked) now
    height, width = final.shape[:2]

    # RGBA: psd-tools keeps a layer's alpha as its transparency only in a document with alpha
    document = PSDImage.new("RGBA", (width, height))
    document.background_color = None  # composite over transparency: the merged image keeps its alpha
    _add(document, "colorized", final, visible=False)
    if colors is None:
        _add(document, "flat colours", flats)
    else:
        for hex_color, pixels, top, left in colors:  # largest area first: lowest
            _add(document, f"flat {hex_color}", pixels, top=top, left=left, crop=False)
    _add(document, "lines", result.line_layer())
    document.tagged_blocks.set_data(Tag.SAVING_MERGED_TRANSPARENCY)

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        document.save(temporary)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise OSError(f"{path}: cannot write the PSD file ({error})") from error
    return path
