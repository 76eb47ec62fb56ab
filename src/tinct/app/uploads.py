"""Pictures the user uploads, as the app reads them: a file, never pixels Gradio decoded.

The events that take a picture run with ``preprocess=False``, so Gradio hands over the file it
saved (its data as a dict, ``{"path": ..., "orig_name": ...}``) and decodes nothing. The picture's
size is read from the file's header and checked against the app's pixel budget
(:data:`APP_MAX_PIXELS` by default, lower than :data:`tinct.image.MAX_PIXELS`: an app serves
several people and holds each one's work) **before** anything is decoded, so a small file that
declares 20000 x 20000 px costs nothing; then :func:`tinct.image.load_image` decodes it (and
refuses truncated, NaN and unreadable files).

Messages name the file as the user knows it (its own name), never the temporary folder Gradio
keeps it in. Nothing here imports Gradio.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from tinct.image import ImageError, check_pixels, image_size, load_image

__all__ = ["APP_MAX_PIXELS", "Upload", "check_budget", "load_upload", "short_message", "upload_of"]

#: the app's pixel budget by default: 5000 x 5000 px, a quarter of tinct's own (tinct.image.MAX_PIXELS)
APP_MAX_PIXELS = 25_000_000


@dataclass(frozen=True)
class Upload:
    """An uploaded file: where it lies (a temporary folder of Gradio's) and its own name."""

    path: Path
    name: str


def upload_of(value) -> Upload | None:
    """The upload an event got: None, a path, or Gradio's file data (a dict with ``path`` and,
    for uploads from the browser, ``orig_name``)."""
    if value is None:
        return None
    if isinstance(value, dict):
        path = value.get("path")
        if not path:
            raise ValueError("the upload did not arrive as a file: upload it again")
        return Upload(path=Path(path), name=value.get("orig_name") or Path(path).name)
    if isinstance(value, (str, os.PathLike)):
        return Upload(path=Path(value), name=Path(value).name)
    raise TypeError(f"an upload is a path or Gradio's file data, got {type(value).__name__}")


def _amount(pixels: int) -> str:
    return f"{pixels / 1e6:.3g} MP" if pixels >= 100_000 else f"{pixels:,} px"


def check_budget(upload: Upload, max_pixels: int) -> tuple[int, int]:
    """``(width, height)`` of the upload from its header, without decoding; ImageError naming
    the file when it cannot be read, is empty or is over ``max_pixels``."""
    try:
        width, height = image_size(upload.path)
    except ImageError as error:
        raise ImageError(short_message(error, upload)) from None
    except FileNotFoundError:  # Gradio deletes uploads after an hour (tinct.app.build: delete_cache)
        raise ImageError(f"{upload.name} is no longer on the server: upload it again") from None
    if width * height > max_pixels:
        raise ImageError(f"{upload.name} is {width} x {height} px ({_amount(width * height)}); the app takes at "
                         f"most {_amount(max_pixels)}. Scale it down, or start the app with --max-pixels.")
    check_pixels(width, height, upload.name, max_pixels)  # an empty picture
    return width, height


def load_upload(value, *, max_pixels: int = APP_MAX_PIXELS) -> torch.Tensor | None:
    """The uploaded picture as ``(3, H, W)`` float32 RGB in [0, 1] (None for no upload), its
    size checked against ``max_pixels`` before decoding. Raises ImageError naming the file by
    its own name for what the app cannot take (too large, truncated, NaN, not an image)."""
    upload = upload_of(value)
    if upload is None:
        return None
    check_budget(upload, max_pixels)
    try:
        return load_image(upload.path, max_pixels=max_pixels)
    except ImageError as error:
        raise ImageError(short_message(error, upload)) from None


# an absolute path's folders (/tmp/gradio/3f2a.../, C:\Users\...\): not after a letter, a dot, a
# colon or a slash, so "a/b", "1/2" and "https://..." stay as they are
_FOLDERS = re.compile(r"(?<![\w.:/\\])(?:[A-Za-z]:)?(?:[/\\][^/\\\s:]+)+[/\\](?=[^/\\\s])")


def short_message(error: BaseException, *uploads: Upload) -> str:
    """The first line of ``error``'s message for the browser: each upload's temporary path
    replaced by the file's own name, the folders of any other absolute path left out."""
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else type(error).__name__
    for upload in uploads:
        text = text.replace(str(upload.path), upload.name)
    return _FOLDERS.sub("", text)
