"""Datasets that come with their own line art: colour/sketch pairs.

- :class:`PairedFolderDataset` — a folder with ``color/`` and ``sketch/`` subfolders; files
  pair by their path relative to the subfolder without the suffix (``color/a/b.png`` with
  ``sketch/a/b.jpg``);
- :class:`SideBySideDataset` — pair images with the colour picture on the left half and the
  sketch on the right half (the layout of the public "Anime Sketch Colorization Pair" set).

Both give the samples of :class:`tinct.data.folder.FolderDataset`: ``color`` (3, S, S) RGB in
[0, 1]; ``sketch`` (1, S, S) in [0, 1] (1 = paper), the given sketch's luminance; ``regions``
(S, S) int64 trapped-ball labels of that sketch (1..K); ``path``. Colour and sketch are fitted
to the square the same way (:func:`tinct.image.fit_square`: scaled so the longer side is ``S``,
mirror-padded, never stretched), so their pixels stay aligned.

What is reported rather than silently dropped (one warning each, listing the files and the
count):

- a file without its partner (``PairedFolderDataset.unpaired``: colour images without a
  sketch and sketches without a colour image, over the whole folder);
- two files of one side with the same stem (``.duplicates``: the first in sorted order is used);
- a sketch whose size differs from its colour image: resized to the colour image when the
  aspect ratios agree within 1 % (``.resized``; scans at another resolution, a JPEG export
  at half size), **refused** otherwise (``.refused``): a sketch of another shape is another
  crop or another picture, and stretching it would misalign every line with its colours;
- an odd-width side-by-side image (``SideBySideDataset.odd_width``): the halves are split
  exactly at ``width // 2``; the right half is then one column wider, and its last column
  is dropped so that both halves have the same size;
- unreadable files (``.skipped``), like :class:`~tinct.data.folder.FolderDataset`: checked
  from the header when the dataset is made; a file whose pixels then fail to decode is
  skipped (once, with a warning) when first met.

No usable pair at all is a ValueError naming the folder. ``limit`` keeps the first ``limit``
pairs (sorted by relative path) before the header checks, so a large folder costs nothing
beyond the listing.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import torch
from PIL import Image

from tinct.data.folder import first_decodable, sketch_sample
from tinct.image import ImageError, fit_square, list_images, load_image, resize

__all__ = ["ASPECT_TOLERANCE", "PairedFolderDataset", "SideBySideDataset"]

log = logging.getLogger(__name__)

ASPECT_TOLERANCE = 0.01  # a sketch whose aspect ratio differs from its colour image's by more is refused
_SHOWN = 5  # files named in a warning; the rest are counted


def _listing(paths, root: Path) -> str:
    """``a.png, b/c.png and 3 more`` (paths relative to ``root``)."""
    paths = list(paths)
    shown = ", ".join(str(Path(path).relative_to(root)) for path in paths[:_SHOWN])
    return shown + (f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else "")


def _probe(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` of the image as it loads (EXIF rotation applied), read from the
    header; None when the file is not a readable image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.verify()  # only right after opening
            with Image.open(path) as image:
                width, height = image.size
                try:
                    orientation = image.getexif().get(0x0112, 1)
                except Exception:  # a broken EXIF block: load_image keeps the picture unrotated too
                    orientation = 1
    except Exception:  # any failure to parse the file means: skip it
        return None
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _aspect_differs(color_size: tuple[int, int], sketch_size: tuple[int, int]) -> bool:
    """Whether two ``(width, height)`` sizes differ in aspect ratio by more than 1 %."""
    (color_w, color_h), (sketch_w, sketch_h) = color_size, sketch_size
    return abs((sketch_w * color_h) / (sketch_h * color_w) - 1.0) > ASPECT_TOLERANCE


def _luminance(image: torch.Tensor) -> torch.Tensor:
    """(3, H, W) RGB -> (1, H, W) luminance (1 = paper)."""
    from tinct.color import rgb_to_gray

    return rgb_to_gray(image)


class _PairDataset:
    """What both pair datasets share: the sample, and skipping pairs that fail to decode."""

    root: Path
    items: list
    size: int
    transform = None

    def __len__(self) -> int:
        return len(self.items)

    def _load(self, item) -> tuple[torch.Tensor, torch.Tensor, Path]:
        """``color (3, H, W)``, ``sketch (1, H, W)`` of the same size, and the path to report."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict:
        color, sketch, path = first_decodable(self.items, index, self.undecodable, self._load,
                                              what=f"pair in {self.root}")
        return sketch_sample(fit_square(color, self.size), fit_square(sketch, self.size), path, self.transform)


class PairedFolderDataset(_PairDataset):
    """Dict samples from ``root/color`` and ``root/sketch`` paired by relative path stem
    (module docstring): ``color``, ``sketch`` (the given one), ``regions``, ``path`` (the
    colour image's).

    Attributes: ``pairs`` [(colour path, sketch path)] in use; ``unpaired`` [paths without a
    partner]; ``duplicates``, ``resized``, ``refused`` (pairs), ``skipped`` (unreadable pairs).
    """

    def __init__(self, root: str | os.PathLike, *, size: int = 256, transform=None, limit: int | None = None):
        self.root = Path(root)
        self.size = size
        self.transform = transform
        color_dir, sketch_dir = self.root / "color", self.root / "sketch"
        for folder in (color_dir, sketch_dir):
            if not folder.is_dir():
                raise FileNotFoundError(f"{self.root}: a paired folder needs color/ and sketch/ subfolders; "
                                        f"{folder.name}/ is missing")
        colors, color_duplicates = self._by_stem(color_dir)
        sketches, sketch_duplicates = self._by_stem(sketch_dir)
        self.duplicates = color_duplicates + sketch_duplicates
        if self.duplicates:
            log.warning("%d file(s) in %s share a stem with another file of the same side and are not used "
                        "(the first in sorted order is): %s", len(self.duplicates), self.root,
                        _listing(self.duplicates, self.root))
        lonely_colors = [colors[stem] for stem in sorted(set(colors) - set(sketches))]
        lonely_sketches = [sketches[stem] for stem in sorted(set(sketches) - set(colors))]
        self.unpaired: list[Path] = lonely_colors + lonely_sketches
        if self.unpaired:
            log.warning("%d file(s) in %s have no partner and are not used (%d colour image(s) without a sketch, "
                        "%d sketch(es) without a colour image): %s", len(self.unpaired), self.root,
                        len(lonely_colors), len(lonely_sketches), _listing(self.unpaired, self.root))
        candidates = [(colors[stem], sketches[stem]) for stem in sorted(set(colors) & set(sketches))][:limit]
        self.pairs: list[tuple[Path, Path]] = []
        self.skipped: list[tuple[Path, Path]] = []
        self.resized: list[tuple[Path, Path]] = []
        self.refused: list[tuple[Path, Path]] = []
        for color_path, sketch_path in candidates:
            color_size, sketch_size = _probe(color_path), _probe(sketch_path)
            if color_size is None or sketch_size is None:
                self.skipped.append((color_path, sketch_path))
            elif color_size == sketch_size:
                self.pairs.append((color_path, sketch_path))
            elif _aspect_differs(color_size, sketch_size):
                self.refused.append((color_path, sketch_path))
            else:
                self.resized.append((color_path, sketch_path))
                self.pairs.append((color_path, sketch_path))
        if self.skipped:
            bad = [path for pair in self.skipped for path in pair if _probe(path) is None]
            log.warning("skipped %d pair(s) with an unreadable image file in %s: %s", len(self.skipped), self.root,
                        _listing(bad, self.root))
        if self.refused:
            log.warning("refused %d pair(s) in %s whose sketch has another aspect ratio than its colour image "
                        "(more than %.0f %% apart): %s", len(self.refused), self.root, ASPECT_TOLERANCE * 100,
                        _listing([sketch for _, sketch in self.refused], self.root))
        if self.resized:
            log.warning("%d sketch(es) in %s differ in size from their colour image and are resized to it: %s",
                        len(self.resized), self.root, _listing([sketch for _, sketch in self.resized], self.root))
        if not self.pairs:
            raise ValueError(f"no usable colour/sketch pairs in {self.root}: {len(colors)} colour image(s), "
                             f"{len(sketches)} sketch(es), {len(candidates)} with matching names, of which "
                             f"{len(self.skipped)} unreadable and {len(self.refused)} of another aspect ratio")
        self.items = self.pairs
        self.undecodable: set[tuple[Path, Path]] = set()  # pairs met that failed to decode (per process)

    @staticmethod
    def _by_stem(folder: Path) -> tuple[dict[str, Path], list[Path]]:
        """Image files under ``folder`` by relative path without suffix, and the files whose
        stem an earlier file (sorted order) already took."""
        files: dict[str, Path] = {}
        duplicates: list[Path] = []
        for path in list_images(folder):
            stem = path.relative_to(folder).with_suffix("").as_posix()
            if stem in files:
                duplicates.append(path)
            else:
                files[stem] = path
        return files, duplicates

    def _load(self, item: tuple[Path, Path]) -> tuple[torch.Tensor, torch.Tensor, Path]:
        color_path, sketch_path = item
        color = load_image(color_path)
        sketch = _luminance(load_image(sketch_path))
        if sketch.shape[1:] != color.shape[1:]:
            height, width = color.shape[1:]
            if _aspect_differs((width, height), (sketch.shape[2], sketch.shape[1])):  # e.g. EXIF the header hid
                raise ImageError(f"{sketch_path}: {sketch.shape[2]} x {sketch.shape[1]} px, another aspect ratio "
                                 f"than its colour image ({width} x {height} px)")
            sketch = resize(sketch, (height, width))
        return color, sketch, color_path


class SideBySideDataset(_PairDataset):
    """Dict samples from side-by-side pair images, colour on the left half and sketch on the
    right (module docstring): ``color``, ``sketch`` (the right half's luminance), ``regions``,
    ``path``.

    Attributes: ``files`` in use; ``skipped`` (unreadable, or narrower than 2 px);
    ``odd_width`` (used, split at ``width // 2``).
    """

    def __init__(self, root: str | os.PathLike, *, size: int = 256, transform=None, limit: int | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"sbs:{root}: not a folder")
        self.size = size
        self.transform = transform
        files = list_images(self.root)[:limit]
        sizes = [_probe(path) for path in files]
        self.skipped = [path for path, found in zip(files, sizes) if found is None or found[0] < 2]
        self.files = [path for path, found in zip(files, sizes) if found is not None and found[0] >= 2]
        self.odd_width = [path for path, found in zip(files, sizes) if found is not None and found[0] >= 2
                          and found[0] % 2]
        if self.skipped:
            log.warning("skipped %d unreadable image file(s) in %s: %s", len(self.skipped), self.root,
                        _listing(self.skipped, self.root))
        if self.odd_width:
            log.warning("%d side-by-side image(s) in %s have an odd width: split at width // 2, the sketch's last "
                        "column dropped: %s", len(self.odd_width), self.root, _listing(self.odd_width, self.root))
        if not self.files:
            found = f"{len(self.skipped)} unreadable image file(s)" if self.skipped else "no image files"
            raise ValueError(f"no readable side-by-side images in {self.root}: found {found}")
        self.items = self.files
        self.undecodable: set[Path] = set()

    def _load(self, item: Path) -> tuple[torch.Tensor, torch.Tensor, Path]:
        image = load_image(item)
        half = image.shape[2] // 2
        if half < 1:
            raise ImageError(f"{item}: {image.shape[2]} px wide, too narrow to hold two halves")
        color = image[:, :, :half]
        sketch = _luminance(image[:, :, half : 2 * half])  # an odd width's last column is dropped
        return color.contiguous(), sketch.contiguous(), item
