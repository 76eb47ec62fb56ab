"""A dataset over any folder of colour images (illustrations, webtoon pages, photos).

Each image is scaled so its longer side is ``size`` and mirror-padded to a square (never
stretched); the sketch is the line art :func:`tinct.lines.extract_lines` finds in the colour
image (see ``tinct.data.paired`` for folders that come with their own) and the region map is the trapped-ball
segmentation of that sketch. Files that cannot be read are skipped with one warning that
names them and gives the count; a file whose header reads but whose pixels do not decode is
skipped (once, with a warning) when first met, and a folder where no image decodes at all
is a ValueError naming the folder.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tinct.image import ImageError, fit_square, list_images, load_image

log = logging.getLogger(__name__)


def _readable(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            image.verify()
        return True
    except Exception:  # any failure to parse the file means: skip it
        return False


def first_decodable(items: list, index: int, undecodable: set, load, *, what: str):
    """``load(items[index])``, or of the next item that decodes (wrapping round): a file that
    passed the header check can still fail to decode, and one bad file must never stop a
    training run. Items that fail go into ``undecodable`` (skipped from then on) and are
    logged once. ``what`` names them in the error when none decodes."""
    for offset in range(len(items)):
        item = items[(index + offset) % len(items)]
        if item in undecodable:
            continue
        try:
            return load(item)
        except ImageError as error:
            undecodable.add(item)
            log.warning("skipping %s", error)
    raise ValueError(f"no {what} could be decoded: all {len(items)} that looked readable failed to decode")


def sketch_sample(color: torch.Tensor, sketch: torch.Tensor, path: Path, transform=None) -> dict:
    """A sample of a folder dataset: ``color``, ``sketch``, ``regions`` (the trapped-ball
    labels of the sketch, int64) and ``path``, mapped by ``transform`` when given."""
    from tinct.regions import trapped_ball

    regions = trapped_ball(sketch[0].numpy())
    sample = {"color": color, "sketch": sketch, "regions": torch.from_numpy(np.asarray(regions, dtype=np.int64)),
              "path": str(path)}
    return transform(sample) if transform is not None else sample


class FolderDataset:
    """Dict samples from a folder of colour images: ``color``, ``sketch``, ``regions``, ``path``.

    ``color`` (3, S, S) in [0, 1]; ``sketch`` (1, S, S) in [0, 1] (1 = paper);
    ``regions`` (S, S) int64 trapped-ball labels of the sketch (1..K).
    """

    def __init__(self, root: str | os.PathLike, *, size: int = 256, transform=None, limit: int | None = None):
        self.root = Path(root)
        files = list_images(self.root)[:limit]
        readable = [_readable(path) for path in files]
        self.files = [path for path, ok in zip(files, readable) if ok]
        self.skipped = [path for path, ok in zip(files, readable) if not ok]
        if self.skipped:
            shown = ", ".join(str(path.relative_to(self.root)) for path in self.skipped[:5])
            more = f" and {len(self.skipped) - 5} more" if len(self.skipped) > 5 else ""
            log.warning("skipped %d unreadable image file(s) in %s: %s%s", len(self.skipped), self.root, shown, more)
        if not self.files:
            found = f"{len(self.skipped)} unreadable image file(s)" if self.skipped else "no image files"
            raise ValueError(f"no readable images in {self.root}: found {found}")
        self.size = size
        self.transform = transform
        self.undecodable: set[Path] = set()  # files met that failed to decode (per process)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict:
        from tinct.lines import extract_lines

        color, path = first_decodable(self.files, index, self.undecodable,
                                      lambda path: (fit_square(load_image(path), self.size), path),
                                      what=f"image file in {self.root}")
        return sketch_sample(color, extract_lines(color), path, self.transform)
