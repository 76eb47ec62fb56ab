"""OpenRaster (``.ora``) files: layered images that Krita, GIMP and MyPaint open.

An OpenRaster file is a zip archive holding, in this order:

- ``mimetype``: the text ``image/openraster``, first and stored uncompressed (readers
  sniff it at a fixed offset);
- ``stack.xml``: the layer stack, topmost layer first, each ``<layer>`` naming its PNG;
- ``data/<name>.png``: one RGBA PNG per layer, at the image size;
- ``Thumbnail/thumbnail.png``: the composite, at most 256 px on its longer side;
- ``mergedimage.png``: the composite at full size.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
from PIL import Image

__all__ = ["Layer", "OraImage", "read_ora", "write_ora"]

MIMETYPE = "image/openraster"
THUMBNAIL_SIZE = 256


@dataclass(frozen=True)
class Layer:
    """One layer: ``pixels`` ``(H, W, 4)`` RGBA (or ``(H, W, 3)`` RGB, opaque) uint8."""

    name: str
    pixels: np.ndarray
    visible: bool = True
    opacity: float = 1.0


@dataclass(frozen=True)
class OraImage:
    """What :func:`read_ora` finds: the size, the layers (topmost first) and the composite."""

    width: int
    height: int
    layers: list[Layer]
    merged: np.ndarray


def _rgba(pixels: np.ndarray, what: str) -> np.ndarray:
    is_array = isinstance(pixels, np.ndarray)
    if not is_array or pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        got = f"{pixels.dtype} {pixels.shape}" if is_array else type(pixels).__name__
        raise ValueError(f"{what} must be a uint8 (H, W, 3|4) array, got {got}")
    if pixels.shape[2] == 3:
        pixels = np.concatenate([pixels, np.full(pixels.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return pixels


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


def _file_name(name: str, used: set[str]) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "layer"
    candidate, number = stem, 1
    while candidate in used:
        number += 1
        candidate = f"{stem}_{number}"
    used.add(candidate)
    return f"data/{candidate}.png"


def write_ora(path: str | os.PathLike, layers: Sequence[Layer], merged: np.ndarray | None = None) -> Path:
    """Write an OpenRaster file.

    layers: topmost first, all of one size. merged: the composite ``(H, W, 3|4)`` uint8
    (``mergedimage.png`` and the thumbnail); default the bottom visible layer (tinct
    always passes its final image). The file is written to a temporary name first.
    """
    path = Path(path)
    if not layers:
        raise ValueError("an OpenRaster file needs at least one layer")
    arrays = [_rgba(layer.pixels, f"layer {layer.name!r}") for layer in layers]
    height, width = arrays[0].shape[:2]
    for layer, pixels in zip(layers, arrays):
        if pixels.shape[:2] != (height, width):
            raise ValueError(f"layer {layer.name!r} is {pixels.shape[1]} x {pixels.shape[0]}, "
                             f"the first layer {width} x {height}: all layers must have one size")
    if merged is None:
        visible = [pixels for layer, pixels in zip(layers, arrays) if layer.visible]
        merged = (visible or arrays)[-1]
    merged = _rgba(merged, "merged")
    if merged.shape[:2] != (height, width):
        raise ValueError(f"merged image must be {width} x {height}, got {merged.shape[1]} x {merged.shape[0]}")

    root = ElementTree.Element("image", {"version": "0.0.3", "w": str(width), "h": str(height)})
    stack = ElementTree.SubElement(root, "stack")
    used: set[str] = set()
    sources = []
    for layer in layers:
        if not 0.0 <= layer.opacity <= 1.0:
            raise ValueError(f"layer {layer.name!r}: opacity must be in [0, 1], got {layer.opacity}")
        source = _file_name(layer.name, used)
        sources.append(source)
        ElementTree.SubElement(stack, "layer", {
            "name": layer.name, "src": source, "x": "0", "y": "0", "opacity": f"{layer.opacity:.3f}",
            "visibility": "visible" if layer.visible else "hidden", "composite-op": "svg:src-over",
        })
    stack_xml = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)

    thumbnail = Image.fromarray(merged)
    thumbnail.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with zipfile.ZipFile(temporary, "w") as archive:
            archive.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, compress_type=zipfile.ZIP_STORED)
            archive.writestr("stack.xml", stack_xml, compress_type=zipfile.ZIP_DEFLATED)
            # PNGs are compressed already: store them
            for source, pixels in zip(sources, arrays):
                archive.writestr(source, _png(pixels), compress_type=zipfile.ZIP_STORED)
            archive.writestr("Thumbnail/thumbnail.png", _png(np.asarray(thumbnail)), compress_type=zipfile.ZIP_STORED)
            archive.writestr("mergedimage.png", _png(merged), compress_type=zipfile.ZIP_STORED)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise OSError(f"{path}: cannot write the OpenRaster file ({error})") from error
    return path


def _read_png(archive: zipfile.ZipFile, name: str, path: Path) -> np.ndarray:
    try:
        data = archive.read(name)
    except KeyError:
        raise ValueError(f"{path}: {name} is missing") from None
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGBA"))
    except OSError as error:
        raise ValueError(f"{path}: {name} is not a readable PNG ({error})") from None


def read_ora(path: str | os.PathLike) -> OraImage:
    """Read an OpenRaster file written by :func:`write_ora` (or by Krita/GIMP, as far as
    layers at offset (0, 0) and src-over go). Layers come back as RGBA, topmost first.
    Raises ValueError naming the file when it is not a valid OpenRaster archive."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such OpenRaster file: {path}")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError(f"{path}: not an OpenRaster file (not a zip archive)") from None
    with archive:
        names = archive.namelist()
        if not names or names[0] != "mimetype" or archive.read("mimetype").decode("ascii", "replace") != MIMETYPE:
            raise ValueError(f"{path}: not an OpenRaster file (no '{MIMETYPE}' mimetype entry first)")
        try:
            root = ElementTree.fromstring(archive.read("stack.xml"))
        except (KeyError, ElementTree.ParseError) as error:
            raise ValueError(f"{path}: missing or malformed stack.xml ({error})") from None
        width, height = int(root.get("w", 0)), int(root.get("h", 0))
        layers = []
        for element in root.iter("layer"):
            pixels = _read_png(archive, element.get("src", ""), path)
            layers.append(Layer(name=element.get("name", ""), pixels=pixels,
                                visible=element.get("visibility", "visible") != "hidden",
                                opacity=float(element.get("opacity", 1.0))))
        merged = _read_png(archive, "mergedimage.png", path)
    return OraImage(width=width, height=height, layers=layers, merged=merged)
