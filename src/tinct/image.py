"""Loading and saving images in tinct's conventions.

Every image a user may have (PNG, JPEG, WebP, TIFF; RGBA, palette, 16-bit, grayscale,
EXIF-rotated, non-square, very large) loads into one of two forms:

- colour image: ``(3, H, W)`` float32 RGB in ``[0, 1]``
- sketch: ``(1, H, W)`` float32 in ``[0, 1]``, 1 = paper, 0 = ink

Transparent pixels are composited on white (paper). Anything that cannot be read raises
:class:`ImageError` naming the file and the reason: unknown formats, corrupt or truncated
files, PNGs whose pixel data stops early, non-finite (NaN, infinite) values, and images
above the pixel budget — checked from the header, **before** decoding, so a tiny file that
declares 20000 x 20000 px costs nothing.

The budget is :data:`MAX_PIXELS` (100 MP by default; ``$TINCT_MAX_PIXELS`` or the
``max_pixels=`` argument change it; ``tinct`` commands take ``--max-pixels``). At 100 MP a
float RGB copy is 1.2 GB and a colorization peaks at about 7 GB.
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from tinct.color import over_white

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")

# The pixel budget, checked from the header before decoding (Pillow's own "decompression
# bomb" limit is replaced by it). 100 MP covers A3 at 600 dpi (7016 x 9921 px) with room.
DEFAULT_MAX_PIXELS = 100_000_000


def _budget_from_environment() -> int:
    text = os.environ.get("TINCT_MAX_PIXELS", "")
    try:
        return int(float(text)) if text.strip() else DEFAULT_MAX_PIXELS
    except ValueError:
        return DEFAULT_MAX_PIXELS


MAX_PIXELS = _budget_from_environment()


class ImageError(ValueError):
    """An image file that cannot be read or written; the message names the file."""


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def list_images(folder: str | os.PathLike) -> list[Path]:
    """All image files under ``folder`` (recursive), sorted for determinism."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"not a folder: {folder}")
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_image_file(p))


def check_pixels(width: int, height: int, what, max_pixels: int | None = None) -> None:
    """Raise :class:`ImageError` naming ``what`` when ``width x height`` is over the pixel
    budget (``max_pixels``, default :data:`MAX_PIXELS`) or empty."""
    budget = MAX_PIXELS if max_pixels is None else int(max_pixels)
    if width < 1 or height < 1:
        raise ImageError(f"{what}: empty image ({width} x {height} px)")
    if width * height > budget:
        raise ImageError(f"{what}: image too large: {width} x {height} px = {width * height / 1e6:.0f} MP, over the "
                         f"budget of {budget / 1e6:g} MP (raise it with --max-pixels or $TINCT_MAX_PIXELS)")


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` from the file's header, without decoding; ImageError if unreadable."""
    path = Path(path)
    with _header(path) as image:
        return image.size


def _png_pixel_bytes(width: int, height: int, bit_depth: int, color_type: int, interlaced: bool) -> int:
    """Bytes of filtered scanlines a complete PNG's IDAT stream inflates to."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(color_type, 1)
    bits = bit_depth * channels

    def scanlines(w: int, h: int) -> int:
        return 0 if w == 0 or h == 0 else h * (1 + math.ceil(w * bits / 8))

    if not interlaced:
        return scanlines(width, height)
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    return sum(scanlines(math.ceil((width - x0) / dx), math.ceil((height - y0) / dy)) for x0, y0, dx, dy in passes)


def _png_is_short(path: Path) -> bool:
    """Whether a PNG's pixel data (its IDAT stream) ends before the last row: Pillow then
    fills the missing rows with 0 and says nothing. Inflates the stream in bounded pieces,
    counting bytes only."""
    with path.open("rb") as file:
        if file.read(8) != b"\x89PNG\r\n\x1a\n":
            return False
        inflate, produced, expected = zlib.decompressobj(), 0, None
        while True:
            header = file.read(8)
            if len(header) < 8:
                break
            length, kind = struct.unpack(">I4s", header)
            data = file.read(length)
            file.read(4)  # CRC (Pillow checks it)
            if kind == b"IHDR" and len(data) >= 13:
                width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", data[:13])
                expected = _png_pixel_bytes(width, height, depth, color, interlace == 1)
            elif kind == b"IDAT":
                while data and produced < (expected or 0):
                    produced += len(inflate.decompress(data, 1 << 20))
                    data = inflate.unconsumed_tail
            elif kind == b"IEND":
                break
        return expected is not None and produced < expected


def _header(path: Path) -> Image.Image:
    """Pillow's lazy open (the header only; Pillow's own bomb limit off, tinct's budget applies
    instead) with tinct's errors. The caller closes the image (it is a context manager)."""
    if not path.exists():
        raise FileNotFoundError(f"no such image file: {path}")
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image file")
    previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        return Image.open(path)
    except UnidentifiedImageError as error:
        raise ImageError(f"{path}: not a readable image (unknown or unsupported format)") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"{path}: corrupt or truncated image ({error})") from error
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _open(path: Path, max_pixels: int | None = None) -> Image.Image:
    """Open, check the budget from the header, then decode (and check PNG completeness)."""
    image = _header(path)
    try:
        check_pixels(*image.size, path, max_pixels)
        image.load()
        if image.format == "PNG" and _png_is_short(path):
            raise ImageError(f"{path}: truncated image: its pixel data ends before the last row")
    except ImageError:
        image.close()
        raise
    except (OSError, SyntaxError, ValueError, zlib.error) as error:
        image.close()
        raise ImageError(f"{path}: corrupt or truncated image ({error})") from error
    except MemoryError:
        image.close()
        raise ImageError(f"{path}: not enough memory to decode {image.size[0]} x {image.size[1]} px "
                         f"(lower --max-pixels, or free memory)") from None
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not lose the picture itself
        return image


def _to_float_array(image: Image.Image, path: Path) -> np.ndarray:
    """Any PIL image -> (H, W, 3) float32 RGB in [0, 1], alpha composited on white."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        if mode.startswith("I;16"):
            array = array / 65535.0
        elif mode == "I":
            array = array / (65535.0 if array.max(initial=0) > 255 else 255.0)
        elif array.max(initial=0) > 1.0:  # "F" images are [0, 1] unless they say otherwise
            array = array / (65535.0 if array.max() > 255 else 255.0)
        gray = np.clip(array, 0.0, 1.0).astype(np.float32)
        return np.repeat(gray[..., None], 3, axis=2)
    if mode == "P":
        image = image.convert("RGBA") if "transparency" in image.info else image.convert("RGB")
    elif mode in ("1", "L"):
        image = image.convert("RGB")
    elif mode in ("LA", "La", "PA", "RGBa"):
        image = image.convert("RGBA")
    elif mode not in ("RGB", "RGBA"):  # CMYK, YCbCr, LAB, HSV, ...
        try:
            image = image.convert("RGB")
        except (ValueError, OSError) as error:
            raise ImageError(f"{path}: unsupported image mode {mode!r}") from error
    array = np.asarray(image, dtype=np.float32) / 255.0
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ImageError(f"{path}: unexpected pixel layout {array.shape}")
    if array.shape[2] == 4:
        array = over_white(array)
    return np.ascontiguousarray(array)


def load_image(path: str | os.PathLike, *, max_pixels: int | None = None) -> torch.Tensor:
    """Load any supported image as ``(3, H, W)`` float32 RGB in ``[0, 1]``.

    RGBA / LA / transparent palette images are composited on white; 16-bit images keep
    their precision; EXIF orientation is applied. Raises :class:`ImageError` naming the
    file for what cannot be read (see the module docstring), before decoding when it is
    over the pixel budget (``max_pixels``, default :data:`MAX_PIXELS`).
    """
    path = Path(path)
    array = _to_float_array(_open(path, max_pixels), path)
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageError(f"{path}: empty image")
    if not np.isfinite(array).all():
        raise ImageError(f"{path}: holds non-finite values (NaN or infinity); not an image tinct can use")
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def as_image(image, what: str = "image", *, max_pixels: int | None = None) -> torch.Tensor:
    """A path, PIL image, numpy array or tensor -> float32 ``(1|3, H, W)`` in [0, 1] (CPU).

    Paths go through :func:`load_image`; uint8 arrays are scaled (RGBA composited on white);
    float arrays and tensors must already lie in [0, 1]. Errors name ``what``; all sizes are
    checked against the pixel budget (``max_pixels``, default :data:`MAX_PIXELS`).
    """
    if isinstance(image, (str, os.PathLike)):
        return load_image(image, max_pixels=max_pixels)
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGBA"))
    if isinstance(image, np.ndarray):
        if image.dtype == np.uint8:
            image = over_white(image) if image.ndim == 3 and image.shape[2] == 4 else image.astype(np.float32) / 255.0
        tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
        if tensor.ndim == 3 and tensor.shape[2] in (1, 3):
            tensor = tensor.permute(2, 0, 1)
    elif isinstance(image, torch.Tensor):
        tensor = image.detach().cpu()
        tensor = tensor.float() / 255.0 if tensor.dtype == torch.uint8 else tensor.float()
    else:
        raise TypeError(f"{what} must be a path, PIL image, numpy array or tensor, got {type(image).__name__}")
    if tensor.ndim == 2:
        tensor = tensor[None]
    if tensor.ndim == 4 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if tensor.ndim != 3 or tensor.shape[0] not in (1, 3):
        raise ValueError(f"{what} must be (1|3, H, W), (H, W) or (H, W, 3), got {tuple(image.shape)}")
    if tensor.shape[1] < 1 or tensor.shape[2] < 1:
        raise ValueError(f"{what} is empty: {tuple(tensor.shape)}")
    check_pixels(int(tensor.shape[2]), int(tensor.shape[1]), what, max_pixels)
    if not torch.isfinite(tensor).all() or tensor.min() < 0 or tensor.max() > 1:
        raise ValueError(f"{what} values must be finite and in [0, 1]")
    return tensor.contiguous()


def load_sketch(path: str | os.PathLike) -> torch.Tensor:
    """Load line art as ``(1, H, W)`` float32 in ``[0, 1]`` (1 = paper, 0 = ink)."""
    from tinct.color import rgb_to_gray

    return rgb_to_gray(load_image(path))


def to_numpy_image(image: torch.Tensor) -> np.ndarray:
    """``(C, H, W)`` in [0, 1] (C = 1 or 3) -> ``(H, W[, 3])`` uint8."""
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"expected an image of shape (1|3, H, W), got {tuple(image.shape)}")
    array = (image.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8).cpu().numpy()
    return array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)


def from_numpy_image(array: np.ndarray) -> torch.Tensor:
    """``(H, W)`` or ``(H, W, 3)`` uint8 -> ``(1|3, H, W)`` float32 in [0, 1]."""
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise ValueError(f"expected a uint8 (H, W[, 3]) array, got {array.dtype} {array.shape}")
    tensor = torch.from_numpy(np.ascontiguousarray(array)).float() / 255.0
    return tensor[None] if tensor.ndim == 2 else tensor.permute(2, 0, 1).contiguous()


def save_image(image: torch.Tensor | np.ndarray, path: str | os.PathLike) -> Path:
    """Save ``(1|3, H, W)`` in [0, 1] (or a uint8 array) to ``path``; format from suffix.

    Parent folders are created. The file is written to a temporary name first, so an
    interrupted save never leaves a half-written image behind.
    """
    path = Path(path)
    if not is_image_file(path):
        raise ImageError(f"{path}: unsupported output format (use one of {', '.join(IMAGE_SUFFIXES)})")
    array = image if isinstance(image, np.ndarray) else to_numpy_image(image)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp{path.suffix}")
    try:
        Image.fromarray(array).save(temporary)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise ImageError(f"{path}: cannot write image ({error})") from error
    return path


def resize(image: torch.Tensor, size: tuple[int, int], *, labels: bool = False) -> torch.Tensor:
    """Resize ``(C, H, W)`` / ``(B, C, H, W)`` images (area when shrinking, bilinear when
    growing) or integer label maps ``(H, W)`` / ``(B, H, W)`` (nearest) to ``(h, w)``."""
    import torch.nn.functional as F

    if labels:
        if image.ndim not in (2, 3):
            raise ValueError(f"expected a label map (H, W) or (B, H, W), got {tuple(image.shape)}")
        batched = image[None] if image.ndim == 2 else image
        out = F.interpolate(batched[:, None].float(), size=size, mode="nearest-exact")[:, 0]
        out = out.round().to(image.dtype)
        return out[0] if image.ndim == 2 else out
    if image.ndim not in (3, 4):
        raise ValueError(f"expected an image (C, H, W) or (B, C, H, W), got {tuple(image.shape)}")
    batched = image[None] if image.ndim == 3 else image
    shrinking = size[0] <= batched.shape[-2] and size[1] <= batched.shape[-1]
    if shrinking:
        out = F.interpolate(batched, size=size, mode="area")
    else:
        out = F.interpolate(batched, size=size, mode="bilinear", align_corners=False, antialias=True)
    out = out.clamp(0, 1)
    return out[0] if image.ndim == 3 else out


def fit_square(image: torch.Tensor, size: int) -> torch.Tensor:
    """Scale ``(C, H, W)`` so its longer side is ``size``, then mirror-pad to a square.

    The picture is never stretched (RASC's protocol). Use :func:`square_box` to find
    where the original lies inside the result.
    """
    import torch.nn.functional as F

    if image.ndim != 3:
        raise ValueError(f"expected an image (C, H, W), got {tuple(image.shape)}")
    height, width = image.shape[-2:]
    scale = size / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    image = resize(image, (new_h, new_w)) if (new_h, new_w) != (height, width) else image
    top, bottom, left, right = _square_padding(new_h, new_w, size)
    if top or bottom or left or right:
        # reflect needs pad < dim; fall back to replicate for very thin images
        mode = "reflect" if max(top, bottom) < new_h and max(left, right) < new_w else "replicate"
        image = F.pad(image[None], (left, right, top, bottom), mode=mode)[0]
    return image


def _square_padding(height: int, width: int, size: int) -> tuple[int, int, int, int]:
    top = (size - height) // 2
    left = (size - width) // 2
    return top, size - height - top, left, size - width - left


def square_box(height: int, width: int, size: int) -> tuple[int, int, int, int]:
    """``(top, left, h, w)`` of an ``height × width`` image inside ``fit_square(.., size)``."""
    scale = size / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    top, _, left, _ = _square_padding(new_h, new_w, size)
    return top, left, new_h, new_w
