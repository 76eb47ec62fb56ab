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

Training (CWR's tag vector, :mod:`tinct.train`): every sample gets the tags of the picture
it trains on, after colour augmentation and cropping (:func:`sample_tags`): the named colours
that cover at least 5 % of the drawing's coloured pixels, counting neither the lines (and
their anti-aliased rims) nor the paper around the drawing (the paper-coloured pixels of the
background regions of the trapped-ball region map, :func:`drawing_mask`); plus ``skin_<tone>``
from the sample's ``skin_tone`` (OpenMoji and Twemoji name it) when its colours are as drawn.
``hair_<colour>`` needs the drawing's hair group (OpenMoji's SVGs only), which no sample
carries: training samples have no hair tags. A model's vocabulary is the tags that enough
training samples carry (:func:`tag_counts`, :func:`vocabulary`); from the shell::

    python -m tinct.data.tags openmoji+twemoji+iconpark+freehand --size 128 --min-count 20

prints it as a YAML list, each tag with the number of samples that carry it.
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


def named_areas(colors: np.ndarray) -> np.ndarray:
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
    return _top_names(named_areas(pixels.reshape(-1, 3).cpu().numpy()), top_k=top_k, min_share=min_share)


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
    tags = set(_top_names(named_areas(fills[counted]), top_k=top_k, min_share=min_share))

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


# ----------------------------------------------------------------------------- training samples

LINE_THRESHOLD = 0.9  # sketch pixels darker than this are lines or their anti-aliased rims


def skin_tone_tags(skin_tone: str) -> list[str]:
    """A sample's ``skin_tone`` (OpenMoji, Twemoji: ``"medium"``, ``"light+dark"``, ``""`` when
    none) -> its ``skin_<tone>`` tags. An unknown tone raises ValueError."""
    tones = [tone for tone in skin_tone.split("+") if tone]
    if any(tone not in SKIN_TONE_NAMES for tone in tones):
        raise ValueError(f"unknown skin tone(s) in {skin_tone!r}; tones are {', '.join(SKIN_TONE_NAMES)}")
    return [f"skin_{tone}" for tone in tones]


def drawing_mask(color: torch.Tensor, sketch: torch.Tensor, *, labels: np.ndarray | None = None,
                 line_threshold: float = LINE_THRESHOLD) -> torch.Tensor:
    """The pixels whose colour is the drawing's: not a line nor its rim, not the paper around it.

    color: ``(3, H, W)`` RGB in [0, 1]; sketch: ``(1, H, W)`` in [0, 1] (1 = paper); labels:
    the sketch's trapped-ball region map ``(H, W)`` (:func:`tinct.regions.trapped_ball`,
    computed when not given). A pixel darker than ``line_threshold`` in the sketch is a line
    or its anti-aliased rim. The paper around the drawing is the pixels of paper colour
    (every channel above :data:`tinct.data.recolor.PAPER_LIGHTNESS`) in a background region:
    one of :func:`tinct.background.background_regions`, or one whose paper is mostly reached
    from the picture's border through gaps of at least :data:`tinct.background.MIN_GAP` px
    (a drawing that fills the picture, a flag or a tile, leaves the paper in several pieces
    and is itself the region along most of the border; its colours count). Returns
    ``(H, W)`` bool.
    """
    from tinct.background import background_regions
    from tinct.data.recolor import PAPER_LIGHTNESS
    from tinct.regions import trapped_ball

    if color.ndim != 3 or color.shape[0] != 3 or sketch.shape != (1, *color.shape[1:]):
        raise ValueError(f"need color (3, H, W) and sketch (1, H, W) of one size, got {tuple(color.shape)} "
                         f"and {tuple(sketch.shape)}")
    plane = sketch[0].detach().float().cpu().numpy()
    labels = trapped_ball(plane) if labels is None else np.asarray(labels)
    if labels.shape != plane.shape:
        raise ValueError(f"labels must be (H, W) = {plane.shape}, got {labels.shape}")
    ink = plane < 0.5
    background = (background_regions(labels, ink) | _reached_from_border(labels, ink))[labels]
    paper = (color.detach().cpu() > PAPER_LIGHTNESS).all(dim=0).numpy()
    return torch.from_numpy(~(background & paper) & (plane >= line_threshold))


def _reached_from_border(labels: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """``(labels.max() + 1,)`` bool: the regions most of whose paper the picture's border
    reaches through gaps of at least :data:`tinct.background.MIN_GAP` px."""
    import cv2

    from tinct.background import MIN_GAP, outside_paper

    flat = labels.ravel().astype(np.int64)
    count = int(flat.max(initial=0)) + 1
    walls = cv2.dilate(ink.astype(np.uint8), np.ones((MIN_GAP, MIN_GAP), np.uint8)) > 0
    reached = outside_paper(walls).ravel()
    paper_area = np.bincount(flat[~ink.ravel()], minlength=count)
    return np.bincount(flat[reached], minlength=count) > 0.5 * np.maximum(paper_area, 1)


def sample_tags(
    color: torch.Tensor,
    sketch: torch.Tensor,
    *,
    min_share: float = 0.05,
    extra: list[str] | tuple[str, ...] = (),
    labels: np.ndarray | None = None,
    line_threshold: float = LINE_THRESHOLD,
) -> torch.Tensor:
    """A training sample's tags as a multi-hot vector over :data:`TAGS` (module docstring).

    color: ``(3, H, W)`` RGB in [0, 1], the picture as trained on; sketch: ``(1, H, W)`` in
    [0, 1] (1 = paper), its closed line art. The plain colour names (:data:`COLOR_NAMES`)
    that cover at least ``min_share`` of the drawing's pixels (:func:`drawing_mask`; lines,
    their rims and the paper around the drawing do not count), plus the ``extra`` tags
    (e.g. :func:`skin_tone_tags`). ``labels``: the sketch's trapped-ball map, if already
    computed. Returns ``(len(TAGS),)`` float32 in {0, 1}; unknown extra tags raise ValueError.
    """
    if not 0.0 < min_share <= 1.0:
        raise ValueError(f"min_share must be in (0, 1], got {min_share}")
    counted = drawing_mask(color, sketch, labels=labels, line_threshold=line_threshold)
    names = dominant_colors(color.detach().cpu(), mask=counted, top_k=len(COLOR_NAMES), min_share=min_share)
    return tags_to_vector([*names, *extra])


def _samples(dataset):
    """The samples of a dataset (``len`` and integer indexing) or of any iterable."""
    if hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__"):
        return (dataset[index] for index in range(len(dataset)))
    return iter(dataset)


def tag_counts(dataset, **options) -> dict[str, int]:
    """How many samples carry each tag: ``{tag: count}`` over all of :data:`TAGS`, in order.

    dataset: a dataset (``len`` and integer indexing) or an iterable of sample dicts, each
    with a ``"tags"`` vector ``(len(TAGS),)``, or with ``"color"`` and ``"sketch"`` (and an
    optional ``"skin_tone"``), whose tags :func:`sample_tags` computes with ``options``.
    """
    totals = torch.zeros(len(TAGS), dtype=torch.long)
    for sample in _samples(dataset):
        vector = sample.get("tags")
        if vector is None:
            vector = sample_tags(sample["color"], sample["sketch"],
                                 extra=skin_tone_tags(sample.get("skin_tone", "")), **options)
        if vector.shape != (len(TAGS),):
            raise ValueError(f"a sample's tags must be ({len(TAGS)},), got {tuple(vector.shape)}")
        totals += (vector > 0.5).long()
    return dict(zip(TAGS, totals.tolist()))


def vocabulary(counts: dict[str, int], min_count: int) -> list[str]:
    """The tags that at least ``min_count`` samples carry (``counts``: :func:`tag_counts`), in
    :data:`TAGS` order: a model's tag vocabulary."""
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count must be a whole number >= 1, got {min_count!r}")
    unknown = sorted(set(counts) - set(TAG_INDEX))
    if unknown:
        raise ValueError(f"unknown tags {unknown} in the counts; the vocabulary is tinct.data.tags.TAGS")
    return [tag for tag in TAGS if counts.get(tag, 0) >= min_count]


def _with_tags(sample: dict) -> dict:
    """A dataset transform: the sample's colour, sketch and tag vector (what a mix keeps)."""
    extra = skin_tone_tags(sample.get("skin_tone", ""))
    return {"color": sample["color"], "sketch": sample["sketch"],
            "tags": sample_tags(sample["color"], sample["sketch"], extra=extra)}


def main(argv: list[str] | None = None) -> int:
    """``python -m tinct.data.tags DATA --size 128 --min-count 20``: the vocabulary of a
    ``--data`` spec's training samples, as a YAML list (module docstring)."""
    import argparse

    from tqdm import tqdm

    from tinct.data.specs import open_dataset

    parser = argparse.ArgumentParser(prog="python -m tinct.data.tags",
                                     description="The colour tags enough training samples carry, as a YAML list.")
    parser.add_argument("data", help="a --data spec (tinct.data.specs), e.g. openmoji+twemoji+iconpark+freehand")
    parser.add_argument("--split", default="train")
    parser.add_argument("--size", type=int, default=128, help="render size in px (the training size)")
    parser.add_argument("--min-count", type=int, default=20, help="a tag needs this many samples")
    parser.add_argument("--limit", type=int, default=None, help="at most this many samples per source")
    args = parser.parse_args(argv)
    dataset = open_dataset(args.data, split=args.split, size=args.size, limit=args.limit, transform=_with_tags)
    counts = tag_counts(tqdm(_samples(dataset), total=len(dataset), desc="tags", unit="sample"))
    kept = vocabulary(counts, args.min_count)
    print(f"# {len(dataset)} {args.split} samples of {args.data} at {args.size} px"
          + (f" (at most {args.limit} per source)" if args.limit else "")
          + f"; the tags at least {args.min_count} carry, with their counts")
    for tag in kept:
        print(f"- {tag}  # {counts[tag]}")
    left = [f"{tag} {counts[tag]}" for tag in TAGS if tag not in kept and counts[tag] > 0]
    if left:
        print(f"# fewer than {args.min_count}: {', '.join(left)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
