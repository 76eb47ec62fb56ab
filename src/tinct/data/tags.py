"""Colour tags (CWR / Tag2pix): a fixed vocabulary of named colours as a multi-hot vector.

Vocabulary (:data:`TAGS`, fixed order, 41 tags):

- ``<colour>`` for each of :data:`COLOR_NAMES`: the colours covering the most area;
- ``hair_<colour>``: the colour of the hair;
- ``skin_<tone>`` for the five Unicode skin tones (``light`` ... ``dark``) and
  ``skin_<colour>`` for drawings with skin but no skin-tone modifier (OpenMoji's default
  skin is yellow, so ``skin_yellow``).

A colour is named by its nearest prototype in Lab (:mod:`tinct.color`); the prototypes are
OpenMoji's palette plus plain web colours, so the names mean the same on other datasets.

For OpenMoji the tags come from the renders (:func:`openmoji_tags`); for other datasets
they are read from a tags file (:func:`read_tags_file`):

- JSON: an object mapping an image file name to a list of tags,
  ``{"0001.png": ["red", "hair_black", "skin_light"]}``;
- CSV: one image per row, ``file,tags`` with the tags separated by spaces, e.g.
  ``0001.png,red hair_black skin_light``; an optional header row ``file,tags``.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import torch

from tinct.color import rgb_to_lab

# Named colours -> prototypes (#rrggbb); the first one is the colour's display value.
_PROTOTYPES: dict[str, tuple[str, ...]] = {
    "red": ("#d22f27", "#ea5a47", "#781e32", "#ff0000"),
    "orange": ("#f4aa41", "#e27022", "#ff8000"),
    "yellow": ("#fcea2b", "#f1b31c", "#ffff00"),
    "green": ("#5c9e31", "#b1cc33", "#186648", "#00ff00", "#008000"),
    "blue": ("#61b2e4", "#92d3f5", "#1e50a0", "#0000ff"),
    "purple": ("#8967aa", "#b399c8", "#800080"),
    "pink": ("#ffa7c0", "#e67a94", "#ffc0cb"),
    "brown": ("#a57939", "#6a462f", "#8b4513"),
    "beige": ("#fadcbc", "#debb90", "#f5f5dc"),
    "black": ("#000000", "#3f3f3f"),
    "gray": ("#9b9b9a", "#d0cfce", "#808080"),
    "white": ("#ffffff",),
}
COLOR_NAMES: tuple[str, ...] = tuple(_PROTOTYPES)
SKIN_TONE_NAMES: tuple[str, ...] = ("light", "medium_light", "medium", "medium_dark", "dark")


def _hex_to_rgb(code: str) -> tuple[int, int, int]:
    return int(code[1:3], 16), int(code[3:5], 16), int(code[5:7], 16)


COLOR_RGB: dict[str, tuple[int, int, int]] = {name: _hex_to_rgb(codes[0]) for name, codes in _PROTOTYPES.items()}
TAGS: list[str] = (
    list(COLOR_NAMES)
    + [f"hair_{name}" for name in COLOR_NAMES]
    + [f"skin_{tone}" for tone in SKIN_TONE_NAMES]
    + [f"skin_{name}" for name in COLOR_NAMES]
)
TAG_INDEX: dict[str, int] = {tag: index for index, tag in enumerate(TAGS)}

_PROTOTYPE_NAMES = [name for name, codes in _PROTOTYPES.items() for _ in codes]
_PROTOTYPE_RGB = np.array([_hex_to_rgb(code) for codes in _PROTOTYPES.values() for code in codes], np.uint8)


def _lab_of(rgb: np.ndarray) -> torch.Tensor:
    """(N, 3) uint8 RGB -> (N, 3) Lab."""
    image = torch.from_numpy(rgb.astype(np.float32) / 255.0).T[None, :, :, None]  # (1, 3, N, 1)
    return rgb_to_lab(image)[0, :, :, 0].T


_PROTOTYPE_LAB = _lab_of(_PROTOTYPE_RGB)


def color_name_indices(rgb: np.ndarray) -> np.ndarray:
    """Index into :data:`COLOR_NAMES` of the nearest named colour (Lab) of each colour.

    rgb: ``(N, 3)`` uint8. Returns ``(N,)`` int64.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 2 or rgb.shape[1] != 3:
        raise ValueError(f"rgb must be (N, 3), got {rgb.shape}")
    if len(rgb) == 0:
        return np.zeros(0, np.int64)
    nearest = torch.cdist(_lab_of(rgb.astype(np.uint8)), _PROTOTYPE_LAB).argmin(dim=1).numpy()
    name_index = np.array([COLOR_NAMES.index(name) for name in _PROTOTYPE_NAMES])
    return name_index[nearest]


def color_name(rgb: tuple[int, int, int] | str) -> str:
    """Nearest named colour of one colour: ``(r, g, b)`` in 0..255 or ``"#rrggbb"``."""
    if isinstance(rgb, str):
        rgb = _hex_to_rgb(rgb)
    return COLOR_NAMES[int(color_name_indices(np.array([rgb]))[0])]


def _named_areas(colors: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 pixels -> (len(COLOR_NAMES),) pixel counts per named colour."""
    unique, counts = np.unique(colors.reshape(-1, 3), axis=0, return_counts=True)
    return np.bincount(color_name_indices(unique), weights=counts, minlength=len(COLOR_NAMES))


def _top_names(areas: np.ndarray, *, top_k: int, min_share: float) -> list[str]:
    total = areas.sum()
    if total <= 0:
        return []
    order = np.argsort(-areas, kind="stable")[:top_k]
    return [COLOR_NAMES[i] for i in order if areas[i] / total >= min_share]


def dominant_colors(
    image: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    top_k: int = 3,
    min_share: float = 0.05,
) -> list[str]:
    """The named colours covering the most area of an image, largest first.

    Args:
        image: ``(3, H, W)`` RGB in [0, 1].
        mask: optional ``(H, W)`` bool: only these pixels count (e.g. not the paper).
        top_k: at most this many names.
        min_share: a name needs at least this share of the counted pixels.
    """
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"image must be (3, H, W), got {tuple(image.shape)}")
    pixels = (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0)  # (H, W, 3)
    if mask is not None:
        if mask.shape != image.shape[1:]:
            raise ValueError(f"mask must be (H, W) = {tuple(image.shape[1:])}, got {tuple(mask.shape)}")
        pixels = pixels[mask.bool()]
    return _top_names(_named_areas(pixels.reshape(-1, 3).cpu().numpy()), top_k=top_k, min_share=min_share)


def _group_areas(fills: np.ndarray, counted: np.ndarray, group_colors: list[str]) -> np.ndarray:
    """Area per named colour of the pixels whose exact fill colour is one of a group's."""
    if not group_colors:
        return np.zeros(len(COLOR_NAMES))
    palette = np.array([_hex_to_rgb(code) for code in dict.fromkeys(group_colors)], np.uint8)  # (G, 3)
    pixels = fills[counted]  # (N, 3)
    hits = (pixels[:, None, :] == palette[None]).all(-1).sum(0)  # (G,)
    if hits.sum() == 0:  # the group is hidden at this size: fall back to its first colour
        hits = np.zeros(len(palette))
        hits[0] = 1
    return np.bincount(color_name_indices(palette), weights=hits, minlength=len(COLOR_NAMES))


def openmoji_tags(
    name: str,
    *,
    size: int = 64,
    top_k: int = 3,
    min_share: float = 0.05,
    hair_min_share: float = 0.25,
    cache=None,
) -> list[str]:
    """Colour tags of one OpenMoji, in :data:`TAGS` order.

    - colours: the ``top_k`` named colours by area of the fills (exact, un-anti-aliased fill
      colours) over the pixels covered by the emoji (``alpha >= 128``) and away from the line
      art (line render ``>= 250``), each with at least ``min_share`` of that area;
    - ``hair_<colour>``: named colours of the ``hair`` group's fills with at least
      ``hair_min_share`` of the visible hair area;
    - ``skin_<tone>`` from the name's skin-tone modifiers; without a modifier, an emoji with
      a ``skin`` group gets ``skin_<colour>`` of its largest skin colour.

    ``cache`` is a :class:`~tinct.data.openmoji.RenderCache` (default: a new one).
    """
    from tinct.data.openmoji import RenderCache, group_fill_colors, read_svg, skin_tone_of

    render = (cache or RenderCache()).get(name, size)
    svg = read_svg(name)
    fills = render["fills"]
    counted = (render["alpha"] >= 128) & (render["line"] >= 250)
    tags = set(_top_names(_named_areas(fills[counted]), top_k=top_k, min_share=min_share))

    hair = _group_areas(fills, counted, group_fill_colors(svg, "hair"))
    if hair.sum() > 0:
        tags.update(f"hair_{COLOR_NAMES[i]}" for i in np.flatnonzero(hair / hair.sum() >= hair_min_share))

    tone = skin_tone_of(name)
    if tone is not None:
        tags.update(f"skin_{part}" for part in tone.split("+"))
    else:
        skin = _group_areas(fills, counted, group_fill_colors(svg, "skin"))
        if skin.sum() > 0:
            tags.add(f"skin_{COLOR_NAMES[int(np.argmax(skin))]}")
    return [tag for tag in TAGS if tag in tags]


def tags_to_vector(tags: list[str] | tuple[str, ...]) -> torch.Tensor:
    """Tags -> multi-hot ``(len(TAGS),)`` float32 in {0, 1}; unknown tags raise ValueError."""
    if isinstance(tags, str):
        raise ValueError(f"tags must be a list of tags, got the string {tags!r}")
    unknown = [tag for tag in tags if tag not in TAG_INDEX]
    if unknown:
        raise ValueError(f"unknown tags {unknown}; the vocabulary is tinct.data.tags.TAGS")
    vector = torch.zeros(len(TAGS))
    vector[[TAG_INDEX[tag] for tag in tags]] = 1.0
    return vector


def vector_to_tags(vector: torch.Tensor, *, threshold: float = 0.5) -> list[str]:
    """Multi-hot (or scores) ``(len(TAGS),)`` -> the tags with value > threshold, in TAGS order."""
    if vector.shape != (len(TAGS),):
        raise ValueError(f"vector must be ({len(TAGS)},), got {tuple(vector.shape)}")
    return [TAGS[i] for i in torch.nonzero(vector > threshold).flatten().tolist()]


def _validated(tags: list, where: str) -> list[str]:
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise ValueError(f"{where}: tags must be a list of strings, got {tags!r}")
    unknown = [tag for tag in tags if tag not in TAG_INDEX]
    if unknown:
        raise ValueError(f"{where}: unknown tags {unknown}; the vocabulary is tinct.data.tags.TAGS")
    return tags


def read_tags_file(path: str | os.PathLike) -> dict[str, list[str]]:
    """Read a tags file (JSON or CSV, see the module docstring): ``file name -> tags``.

    Raises ValueError on a malformed file, an unknown tag (naming the entry) or an
    unsupported extension.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from error
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object {{file: [tags]}}, got {type(data).__name__}")
        return {str(file): _validated(tags, f"{path}: {file!r}") for file, tags in data.items()}
    if suffix == ".csv":
        result: dict[str, list[str]] = {}
        with path.open(newline="", encoding="utf-8") as handle:
            for number, row in enumerate(csv.reader(handle), start=1):
                if not row or all(not cell.strip() for cell in row):
                    continue
                if number == 1 and [cell.strip().lower() for cell in row] == ["file", "tags"]:
                    continue
                if len(row) != 2:
                    raise ValueError(f"{path}:{number}: expected 2 columns 'file,tags', got {len(row)}: {row}")
                file, tags = row[0].strip(), row[1].split()
                if file in result:
                    raise ValueError(f"{path}:{number}: {file!r} listed twice")
                result[file] = _validated(tags, f"{path}:{number}")
        return result
    raise ValueError(f"{path}: tags files must be .json or .csv, got {suffix or 'no extension'!r}")
