"""Loading and saving images in tinct's conventions.

Every image a user may have (PNG, JPEG, WebP, TIFF; RGBA, palette, 16-bit, grayscale,
EXIF-rotated, non-square, very large) loads into one of two forms:

- colour image: ``(3, H, W)`` float32 RGB in ``[0, 1]``
- sketch: ``(1, H, W)`` float32 in ``[0, 1]``, 1 = paper, 0 = ink

Transparent pixels are composited on white (paper). Anything that cannot be read raises
:class:`ImageError` naming the file and the reason.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from tinct.color import over_white

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")

# Pillow refuses images above ~179 MP as "decompression bombs". Line art scans of
# 20000 x 20000 px are real; above this many pixels we refuse with a clear error.
MAX_PIXELS = 400_000_000


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


def _open(path: Path) -> Image.Image:
    if not path.exists():
        raise FileNotFoundError(f"no such image file: {path}")
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image file")
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
            image.load()
    except Image.DecompressionBombError as error:
        raise ImageError(f"{path}: image too large ({error})") from error
    except UnidentifiedImageError as error:
        raise ImageError(f"{path}: not a readable image (unknown or unsupported format)") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"{path}: corrupt or truncated image ({error})") from error
    finally:
        Image.MAX_IMAGE_PIXELS = previous
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


def load_image(path: str | os.PathLike) -> torch.Tensor:
    """Load any supported image as ``(3, H, W)`` float32 RGB in ``[0, 1]``.

    RGBA / LA / transparent palette images are composited on white; 16-bit images keep
    their precision; EXIF orientation is applied.
    """
    path = Path(path)
    array = _to_float_array(_open(path), path)
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageError(f"{path}: empty image")
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def as_image(image, what: str = "image") -> torch.Tensor:
    """A path, PIL image, numpy array or tensor -> float32 ``(1|3, H, W)`` in [0, 1] (CPU).

    Paths go through :func:`load_image`; uint8 arrays are scaled (RGBA composited on white);
    float arrays and tensors must already lie in [0, 1]. Errors name ``what``.
    """
    if isinstance(image, (str, os.PathLike)):
        return load_image(image)
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
    if tensor.shape[1] * tensor.shape[2] > MAX_PIXELS:
        raise ValueError(f"{what} too large: {tensor.shape[2]} x {tensor.shape[1]} px (at most {MAX_PIXELS} px)")
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
