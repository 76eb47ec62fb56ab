"""Colorize line art with a trained model, at the sketch's own resolution.

``Colorizer.from_pretrained(name_or_folder)`` loads any checkpoint folder
(``config.json`` + ``model.safetensors``), a shipped model by name or ``baseline:NAME``
(:func:`tinct.methods.load_model`, the one loader).
``colorize(sketch, hints=..., regions_colors=..., reference=..., tags=..., style=...,
scribbles=..., seed=...)`` returns a :class:`Result`: the colour image, the flat colours, the
region map and, for a model that ranks regions, the ranked guide regions, all at the input's
full size.

Native resolution (DESIGN "Product"):

1. the sketch is scaled so its longer side is the network size (``size``, default 128, the
   shipped models' training size) and mirror-padded to a square (never stretched). Lines
   that would get thinner than ``min_stroke`` px at that size are thickened first (a min
   filter), so that thin lines of a large drawing do not vanish from the network's view;
2. the network paints that square; the picture's part is cut out and scaled back to the
   full size;
3. the trapped-ball region map (:func:`tinct.regions.trapped_ball`, radii ``"auto"``) is
   computed at full resolution (on a copy scaled to ``region_max_side`` px for larger
   images, labels scaled back by nearest neighbour); every region is filled with the mean
   network colour of its paper pixels: the **flat colours**. Point and stroke hints are
   exact: the region under a point (under most of a stroke) gets the user's colour itself,
   and so does every region of a question the user gave a colour. The background (the
   paper around the drawing and the pockets reached from it through gaps in the lines,
   :func:`tinct.background.background_regions`) stays paper where no hint reaches it
   (``paper_background=False``: the network's colour). Hints are **local**
   (``local_hints=True``, DESIGN "Product"; a product step beyond the papers): a region no
   point, stroke or coloured question reaches takes its colour from the network's output
   *without* those hints (the other guidance, reference, tags, style, scribbles, kept), so a
   hint changes its own area and leaves the rest alone. The hint-free output is computed once
   per sketch and guidance and kept in the :class:`Prepared` (hint updates cost one pass);
   ``local_hints=False`` lets the network's own spreading through. **Scribbles are walls**
   (a product step beyond the edge-enhancement paper, which only corrects the network's
   features): where a scribble crosses a region of the full-resolution map, e.g. over a gap in
   the lines that let one area's colour into the next, that region is split along it
   (:func:`tinct.regions.split_regions`) for this request, so each side is flattened to its own
   colour; the split is computed per request and kept in the :class:`Prepared` by scribbles, the
   prepared sketch itself never changes;
4. the lines are multiplied over the flat colours (``flat x sketch luminance``) and every
   ink pixel (darker than ``threshold``) is copied from the input unchanged, so the lines
   of the result are the input's lines, pixel for pixel.

How guidance reaches a method: everything given is one :class:`tinct.guidance.Request`,
checked once against the model's declared :class:`~tinct.methods.base.Guidance` (one error
message per misuse), rasterised once per update (:class:`Raster`: hint pixels at the network
size and at full size) and handed to ``model.paint`` as network-size :class:`Inputs`:

- a model that ranks regions (``guidance.regions``) asks **questions** (:meth:`Colorizer.questions`):
  its ranked segments snapped to the full-resolution regions (each region goes to the
  segment covering most of it; never across a line), in the model's order, then every region
  the model lumped with others on its own, largest first, so each drawn area can be asked about.
  ``regions_colors[i]`` colours question i (None skips it; a colour past the last question is
  a warning in ``Result.warnings``); a point or stroke fills the region under it (under most
  of its pixels). The network sees the filled questions and regions at its size as its hint,
  as in training it sees filled segments (GuidingPainter has no point hints; a region is the
  local hint closest to its training);
- a model that takes points (and no ranked regions): points and strokes become hint patches
  (hint_colors, hint_mask) at the network size;
- a reference picture is fitted to the network size; tags become a multi-hot vector over the
  model's vocabulary; a style seed becomes a code ``N(0, 1)`` of ``style_dim`` numbers drawn
  from that seed (:func:`tinct.methods.base.style_from_seed`; seed 0 when none is given), a
  style between two seeds ``"A,B@T"`` the linear mix of their codes, and a code given as
  numbers is used as it is (:func:`tinct.guidance.style_code`); scribbles become a mask at the
  network size.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from tinct.background import background_regions
from tinct.guidance import Request, check_request, style_code
from tinct.hintfile import Hints, channel_values, hint_pixels, scribble_mask
from tinct.image import as_image, fit_square, resize, save_image, square_box
from tinct.methods import find_model, load_model
from tinct.methods.base import Guidance, Inputs
from tinct.regions import stroke_width, trapped_ball

__all__ = ["Colorizer", "Prepared", "Raster", "Result", "find_model", "load_model"]

DEFAULT_MODEL = "guiding_painter"
DEFAULT_SIZE = 128  # the shipped models' training size
MAX_SIZE = 1024  # the largest network working size (more is slow and runs out of memory on a CPU)
MIN_STRIP = 4  # a picture's shorter side at the network size, in px, below which it is refused
MIN_QUESTION = 0.0005  # areas smaller than this share of the picture are not asked about
LAYER_MODES = ("single", "per-color")  # Result.save(layers=...): one flat-colour layer, or one per colour


def resolve_device(device: str | torch.device) -> torch.device:
    """A torch device this machine has, or ValueError in one line: ``device 'X' is not
    available: <why>; use cpu``. The one device check of the API, the CLI and the app."""
    try:
        place = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device {str(device)!r} is not available: not a torch device (cpu, cuda, cuda:1, mps); "
                         f"use cpu") from None
    if place.type == "cpu":
        return place
    if place.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"device {str(device)!r} is not available: PyTorch finds no CUDA GPU on this machine "
                             f"(torch {torch.__version__}); use cpu")
        if place.index is not None and place.index >= count:
            raise ValueError(f"device {str(device)!r} is not available: this machine has {count} CUDA GPU(s), "
                             f"cuda:0 to cuda:{count - 1}; use cpu")
        return place
    if place.type == "meta":
        raise ValueError(f"device {str(device)!r} is not available: a meta device holds no values; use cpu")
    try:
        torch.zeros(1, device=place)
    except Exception as error:  # noqa: BLE001 - mps, xpu, ...: each backend says no in its own words
        reason = " ".join(str(error).split()) or type(error).__name__
        raise ValueError(f"device {str(device)!r} is not available: {reason}; use cpu") from None
    return place


# ----------------------------------------------------------------------------- results


@dataclass
class Prepared:
    """Everything about one sketch that does not depend on the hints (reuse it for fast
    hint updates: :meth:`Colorizer.colorize` accepts it in place of the sketch).

    original: ``(3, H, W)`` the input pixels in [0, 1]; sketch: ``(1, H, W)`` luminance
    (1 = paper); ink: bool ``(H, W)``; regions: int32 ``(H, W)`` trapped-ball labels 1..K;
    network_sketch: ``(1, 1, S, S)`` the network's input, on the model's device; box:
    ``(top, left, h, w)`` of the picture inside it; method: what ``model.prepare`` returned
    for it; guide: ``(1, N, S, S)`` one-hot ranked segments (models that rank regions) or
    None; guide_ranks: int64 ``(S, S)`` their argmax (the rank of each pixel's segment);
    questions: the areas the product asks about, in order, each an array of region labels
    (:meth:`Colorizer.questions`; ``regions_colors[i]`` colours question i); guide_regions:
    int64 ``(H, W)`` the first question asking about each pixel's region (-1: none);
    network_regions: int64 ``(S, S)`` the region map at the network size (-1 outside the
    picture's box); background: bool ``(K + 1,)`` per region label, the paper around the
    drawing (:func:`tinct.background.background_regions`); unhinted: the region colours of
    the network's outputs without local hints, by the rest of the request
    (:meth:`Colorizer.colorize`); walls: this
    sketch prepared with its regions split along scribbles, by scribbles (:meth:`Colorizer.walled`).
    """

    original: torch.Tensor
    sketch: torch.Tensor
    ink: np.ndarray
    regions: np.ndarray
    network_sketch: torch.Tensor
    box: tuple[int, int, int, int]
    method: dict = field(default_factory=dict)
    guide: torch.Tensor | None = None
    guide_ranks: np.ndarray | None = None
    guide_regions: np.ndarray | None = None
    questions: tuple[np.ndarray, ...] = ()
    network_regions: np.ndarray | None = None
    background: np.ndarray | None = None
    unhinted: dict = field(default_factory=dict, repr=False)
    # the region-mean operator (:func:`region_mean_operator`) of the network output over this
    # sketch's regions, built on its first colorization and kept
    means_operator: object | None = field(default=None, repr=False)
    ink_pixels: tuple | None = field(default=None, repr=False)  # (flat indices, (3, n) input colours) of the ink
    walls: dict = field(default_factory=dict, repr=False)

    def question_mask(self, index: int) -> np.ndarray:
        """bool ``(H, W)``: the pixels of question ``index`` (its regions)."""
        return np.isin(self.regions, self.questions[index])

    @property
    def height(self) -> int:
        return int(self.original.shape[1])

    @property
    def width(self) -> int:
        return int(self.original.shape[2])


@dataclass(frozen=True)
class Raster:
    """A request's points and strokes rasterised once per update, on both canvases.

    network: ``(rows, cols, colour)`` per point and stroke on the network's ``S x S`` square
    (inside the picture's box); full: the same at the picture's full size (for exact hints
    and for drawing them); scribbles: bool ``(S, S)`` scribble mask, or None without scribbles.
    """

    network: list
    full: list
    scribbles: np.ndarray | None = None


@dataclass
class Result:
    """A colorization at the input's full size ``H x W``.

    image: ``(3, H, W)`` RGB in [0, 1], the final image (lines over flat colours);
    flat: ``(3, H, W)`` the flat colours, one colour per region, no lines;
    regions: int32 ``(H, W)`` the trapped-ball region map (labels 1..K);
    network_small: ``(3, h, w)`` the network's own output over the picture at its working size;
    :attr:`network` is it scaled to full size (shaded, unflattened); guide_regions: int64 ``(H, W)`` the first question asking about each pixel's region (0 =
    the area the model asks about first, -1 none: :meth:`Colorizer.questions`), or None for
    methods without a ranking;
    sketch: ``(1, H, W)`` input luminance; ink: bool ``(H, W)`` the line pixels kept exactly;
    background: bool ``(H, W)`` the background no hint reached (paper, or clear with
    ``transparent``: :func:`tinct.background.background_regions`);
    hints: the hints used; raster: their pixels (:class:`Raster`), for drawing them;
    questions: how many areas the model asks about; warnings: what went nowhere (region
    colours past the questions), one line each.
    """

    image: torch.Tensor
    flat: torch.Tensor
    regions: np.ndarray
    network_small: torch.Tensor
    guide_regions: np.ndarray | None
    sketch: torch.Tensor
    ink: np.ndarray
    background: np.ndarray
    hints: Hints
    raster: Raster | None = None
    questions: int = 0
    warnings: tuple[str, ...] = ()
    _network: torch.Tensor | None = field(default=None, init=False, repr=False)

    @property
    def network(self) -> torch.Tensor:
        """``(3, H, W)`` the network's own output scaled to full size (shaded, unflattened),
        made on first use (a hint update does not need it)."""
        if self._network is None:
            height, width = self.regions.shape
            small = self.network_small
            self._network = small if tuple(small.shape[-2:]) == (height, width) else resize(small, (height, width))
        return self._network

    def rgba(self, *, transparent: bool = False) -> np.ndarray:
        """The final image as uint8 ``(H, W, 4)``. transparent: the background region becomes
        transparent except its lines (black, alpha = darkness; ink pixels keep their colour)."""
        rgb = _uint8(self.image)
        alpha = np.full(rgb.shape[:2], 255, np.uint8)
        if transparent:
            clear = self.background & ~self.ink
            rgb[clear] = 0
            alpha[clear] = _uint8(1.0 - self.sketch)[clear]
        return np.concatenate([rgb, alpha[..., None]], axis=2)

    def line_layer(self) -> np.ndarray:
        """The lines alone: uint8 ``(H, W, 4)``, transparent on paper: the ink (the line pixels
        kept exactly) opaque in the input's own colours, lighter pixels black with alpha =
        darkness (1 - luminance). Over :meth:`flat_layer` it gives the final image (ink, and
        ``flat x luminance`` elsewhere), within rounding."""
        alpha = _uint8(1.0 - self.sketch)
        layer = np.concatenate([np.zeros(alpha.shape + (3,), np.uint8), alpha[..., None]], axis=2)
        layer[self.ink, :3] = _uint8(self.image)[self.ink]
        layer[self.ink, 3] = 255
        return layer

    def flat_layer(self, *, transparent: bool = False) -> np.ndarray:
        """The flat colours as uint8 ``(H, W, 4)``; transparent: the background region clear."""
        rgb = _uint8(self.flat)
        alpha = np.full(rgb.shape[:2], 255, np.uint8)
        if transparent:
            alpha[self.background] = 0
        return np.concatenate([rgb, alpha[..., None]], axis=2)

    def save(self, path: str | os.PathLike, *, transparent: bool = False, layers: str = "single") -> Path:
        """Write ``.png`` (RGBA with ``transparent``), or a layered ``.ora`` (OpenRaster) or
        ``.psd`` (Photoshop): topmost first lines, flat colours, the final image hidden; the
        final image is also the composite. Other image suffixes (.jpg, .webp, ...) get the RGB
        image. layers: ``"single"``, or ``"per-color"`` (.psd only): one layer per distinct flat
        colour instead of one flat-colour layer (:func:`tinct.psd.write_psd`)."""
        from tinct.ora import Layer, write_ora

        path = Path(path)
        suffix = path.suffix.lower()
        if layers not in LAYER_MODES:
            raise ValueError(f"layers must be one of {', '.join(map(repr, LAYER_MODES))}, got {layers!r}")
        if layers == "per-color" and suffix != ".psd":
            raise ValueError(f"{path}: one layer per flat colour (layers='per-color') needs a .psd file")
        if suffix == ".psd":
            from tinct.psd import write_psd

            return write_psd(path, self, transparent=transparent, per_color=layers == "per-color")
        if suffix == ".ora":
            final = self.rgba(transparent=transparent)
            return write_ora(path, [
                Layer("lines", self.line_layer()),
                Layer("flat colours", self.flat_layer(transparent=transparent)),
                Layer("colorized", final, visible=False),
            ], merged=final)
        if suffix == ".png":
            return save_image(self.rgba(transparent=True) if transparent else _uint8(self.image), path)
        if transparent:
            raise ValueError(f"{path}: a transparent background needs a .png, .ora or .psd file")
        return save_image(self.image, path)


def _uint8(image) -> np.ndarray:
    """(C, H, W) tensor in [0, 1] -> uint8 (H, W, C), or (1, H, W) -> (H, W)."""
    array = (image.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8).numpy()
    return array[0] if array.shape[0] == 1 else np.ascontiguousarray(array.transpose(1, 2, 0))


# ----------------------------------------------------------------------------- the colorizer


class Colorizer:
    """A trained model plus the native-resolution pipeline (module docstring).

    model: a method module (``tinct.methods``), put in eval mode; size: the network's working
    size in px (the longer side; default 128); threshold: ink threshold in [0, 1] for the
    region map and for the line pixels kept exactly; min_stroke: thinnest line (px) at the
    network size before lines are thickened; region_max_side: larger sketches get their
    region map on a copy scaled to this side; channels_last: run the network in the
    channels-last memory format (faster on CPU; the model is converted in place); max_pixels:
    the largest sketch or reference accepted, checked before decoding (default
    :data:`tinct.image.MAX_PIXELS`); paper_background: background regions
    (:func:`tinct.background.background_regions`) no hint reaches stay paper; min_question:
    areas smaller than this share of the picture are not asked about (:meth:`questions`);
    local_hints: regions no hint reaches keep the colours of the hint-free output (module
    docstring, step 3).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        size: int = DEFAULT_SIZE,
        threshold: float = 0.5,
        min_stroke: float = 2.0,
        region_max_side: int = 4096,
        channels_last: bool = True,
        max_pixels: int | None = None,
        paper_background: bool = True,
        min_question: float = MIN_QUESTION,
        local_hints: bool = True,
    ) -> None:
        if not 8 <= size <= MAX_SIZE:
            raise ValueError(f"size must be between 8 and {MAX_SIZE} px, got {size}")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        if region_max_side < 64:
            raise ValueError(f"region_max_side must be at least 64, got {region_max_side}")
        # channels-last convolutions are ~15 % faster on CPU for these U-Nets (same values)
        self._memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.eval().to(memory_format=self._memory_format)
        self.size = int(size)
        self.threshold = float(threshold)
        self.min_stroke = float(min_stroke)
        self.region_max_side = int(region_max_side)
        self.max_pixels = max_pixels
        self.paper_background = bool(paper_background)
        if not 0.0 <= min_question < 1.0:
            raise ValueError(f"min_question must be in [0, 1), got {min_question}")
        self.min_question = float(min_question)
        self.local_hints = bool(local_hints)

    @classmethod
    def from_pretrained(cls, model: str | os.PathLike = DEFAULT_MODEL, *, device: str | torch.device = "cpu",
                        **options) -> Colorizer:
        """Load a checkpoint folder, a shipped model by name or ``baseline:NAME``
        (:func:`tinct.methods.load_model`). ``options`` go to the constructor (``size``, ...)."""
        return cls(load_model(model).to(resolve_device(device)), **options)

    # -- what the model takes

    @property
    def method(self) -> str:
        """The model's name in reports (``scft+skeleton``, ``baseline:flat-fill``, ...)."""
        return self.model.display_name

    @property
    def guidance(self) -> Guidance:
        """What the model takes (its declared :class:`~tinct.methods.base.Guidance`)."""
        return self.model.guidance

    @property
    def device(self) -> torch.device:
        parameter = next(self.model.parameters(), None)
        return parameter.device if parameter is not None else torch.device("cpu")

    def check(self, request: Request) -> None:
        """Raise :class:`~tinct.guidance.GuidanceError` when the model cannot take ``request``."""
        check_request(request, self.guidance, self.method)

    # -- the pipeline

    def prepare(self, sketch) -> Prepared:
        """The hint-independent work for one sketch: full-resolution region map, the
        network's input and what the model prepares (a ranking of regions, ...).

        sketch: a path, PIL image, uint8/float numpy array ``(H, W[, 3|4])`` or tensor
        ``(1|3, H, W)`` in [0, 1] (1 = paper); colour images are read as their luminance.
        """
        if isinstance(sketch, Prepared):
            if tuple(sketch.network_sketch.shape[-2:]) != (self.size, self.size):
                raise ValueError(f"this sketch was prepared for a {sketch.network_sketch.shape[-1]} px network, "
                                 f"not {self.size} px: prepare it again with this colorizer")
            return sketch
        original = as_image(sketch, "sketch", max_pixels=self.max_pixels)
        height, width = original.shape[1:]
        if min(height, width) * self.size / max(height, width) < MIN_STRIP:
            raise ValueError(f"sketch is {width} x {height} px: too thin a strip for the {self.size} px network "
                             f"(at most {self.size // MIN_STRIP}:1); cut it into pieces, or raise --size")
        if original.shape[0] == 1:
            luminance, original = original, original.expand(3, -1, -1).contiguous()
        else:
            from tinct.color import rgb_to_gray

            luminance = rgb_to_gray(original)
        ink = luminance[0].numpy() < self.threshold
        regions = self._region_map(luminance)
        network_sketch = fit_square(self._thickened(luminance, ink), self.size)[None]
        network_sketch = network_sketch.to(self.device).contiguous(memory_format=self._memory_format)
        box = square_box(original.shape[1], original.shape[2], self.size)
        with torch.inference_mode():
            method = self.model.prepare(network_sketch)
        prepared = Prepared(original=original, sketch=luminance, ink=ink, regions=regions,
                            network_sketch=network_sketch, box=box, method=method)
        prepared.background = background_regions(regions, ink)
        top, left, box_h, box_w = box
        prepared.network_regions = self._network_regions(regions, box)
        if self.guidance.regions:
            prepared.guide = method["segments"]
            ranks = prepared.guide[0].argmax(0).cpu()  # (S, S)
            prepared.guide_ranks = ranks.numpy()
            crop = ranks[top : top + box_h, left : left + box_w]
            full_ranks = resize(crop, tuple(original.shape[1:]), labels=True).numpy()
            prepared.questions = self.questions(regions, full_ranks, prepared.background)
            prepared.guide_regions = _first_question(prepared)[regions]
        return prepared

    def _network_regions(self, regions: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The full-resolution region map at the network size: int64 ``(S, S)``, -1 outside the box."""
        top, left, box_h, box_w = box
        network_regions = np.full((self.size, self.size), -1, np.int64)
        network_regions[top : top + box_h, left : left + box_w] = resize(
            torch.from_numpy(regions.astype(np.int64)), (box_h, box_w), labels=True).numpy()
        return network_regions

    def walled(self, prepared: Prepared, hints: Hints) -> Prepared:
        """``prepared`` with its full-resolution regions split along the scribbles of ``hints``
        (module docstring, step 3; beyond the paper): each scribble, as drawn at full size, is a
        wall for this request (:func:`tinct.regions.split_regions`); the parts of a region take
        new labels after the last, the paper around the drawing is found again with the walls as
        lines (a pocket a scribble closes off is no longer background), and a part belongs to
        the questions its region belonged to. ``prepared`` itself is unchanged: without
        scribbles, or when they cut nothing, it is returned as it is; otherwise a copy sharing
        its caches, kept in ``prepared.walls`` by scribbles."""
        from tinct.regions import split_regions

        if not hints.scribbles:
            return prepared
        key = hints.scribbles
        if key not in prepared.walls:
            wall = scribble_mask(hints, prepared.height, prepared.width)
            regions, parent = split_regions(prepared.regions, wall, prepared.ink)
            walled = prepared
            if len(parent) > int(prepared.regions.max()) + 1:
                parts = np.arange(int(prepared.regions.max()) + 1, len(parent))
                questions = tuple(np.concatenate([question, parts[np.isin(parent[parts], question)]])
                                  for question in prepared.questions)
                walled = replace(prepared, regions=regions, background=background_regions(regions, prepared.ink | wall),
                                 network_regions=self._network_regions(regions, prepared.box), questions=questions,
                                 means_operator=None)
                if prepared.guide_regions is not None:
                    walled.guide_regions = _first_question(walled)[regions]
            if len(prepared.walls) >= 4:  # a few scribble sets in an app session
                prepared.walls.pop(next(iter(prepared.walls)))
            prepared.walls[key] = walled
        return prepared.walls[key]

    def questions(self, regions: np.ndarray, ranks: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, ...]:
        """The areas the product asks about, in order (each an array of region labels).

        First the model's ranked segments, snapped to the line-enclosed regions: each region
        of ``regions`` goes to the rank covering most of its pixels, and every rank that
        holds regions is one question, in the model's order. Then, when those are used up,
        every region of a question that holds several (the model lumped them together) on its
        own, largest first, so that each drawn area can get its own colour. Background regions
        (:func:`tinct.background.background_regions`: paper, which stays paper unless hinted)
        are left out of a question about the drawing (its colour would tint the pockets of
        paper the model lumped in) and never asked about on their own; a segment that holds
        only background is asked about last. Areas under ``min_question`` of the picture are
        not asked about.
        """
        flat = regions.ravel().astype(np.int64)
        count = int(flat.max(initial=0)) + 1
        num_ranks = int(ranks.max(initial=0)) + 1
        votes = np.bincount(flat * num_ranks + ranks.ravel().astype(np.int64),
                            minlength=count * num_ranks).reshape(count, num_ranks)
        area = votes.sum(axis=1)
        present = area > 0
        owner = votes.argmax(axis=1)  # the rank of each region
        least = max(1, math.ceil(self.min_question * regions.size))
        drawn, paper = [], []
        for rank in range(num_ranks):
            members = np.flatnonzero(present & (owner == rank))
            if not members.size or area[members].sum() < least:
                continue
            members = members[np.argsort(-area[members], kind="stable")]
            inside = members[~background[members]]  # a drawing's question leaves its paper alone
            if inside.size and area[inside].sum() >= least:
                drawn.append(inside)
            elif not inside.size:
                paper.append(members)
        lumped = [member for question in drawn if len(question) > 1 for member in question if area[member] >= least]
        return tuple(drawn + [np.array([member]) for member in sorted(lumped, key=lambda m: -area[m])] + paper)

    def _region_map(self, luminance: torch.Tensor) -> np.ndarray:
        height, width = luminance.shape[1:]
        longer = max(height, width)
        if longer <= self.region_max_side:
            return trapped_ball(luminance[0].numpy(), radii="auto", threshold=self.threshold)
        scale = self.region_max_side / longer
        small = resize(luminance, (max(1, round(height * scale)), max(1, round(width * scale))))
        labels = trapped_ball(small[0].numpy(), radii="auto", threshold=self.threshold)
        return resize(torch.from_numpy(labels), (height, width), labels=True).numpy()

    def _thickened(self, luminance: torch.Tensor, ink: np.ndarray) -> torch.Tensor:
        """Thicken lines (min filter) that would be thinner than ``min_stroke`` px at the
        network size; the full-size result keeps the original lines regardless."""
        factor = max(luminance.shape[1:]) / self.size
        if factor <= 1.0 or not ink.any():
            return luminance
        width = stroke_width(ink)
        grow = math.ceil(self.min_stroke * factor - width)
        if grow < 1:
            return luminance
        kernel = np.ones((grow + 1, grow + 1), np.uint8)  # a k x k min filter widens lines by k - 1
        return torch.from_numpy(cv2.erode(luminance[0].numpy(), kernel))[None]

    def rasterize(self, prepared: Prepared, hints: Hints) -> Raster:
        """The points, strokes and scribbles of ``hints`` on the network's square and at full
        size, once per update (:class:`Raster`)."""
        size = self.size
        network = hint_pixels(hints, size, size, box=prepared.box)
        full = hint_pixels(hints, prepared.height, prepared.width)
        scribbles = scribble_mask(hints, size, size, box=prepared.box) if hints.scribbles else None
        return Raster(network=network, full=full, scribbles=scribbles)

    def hint_tensors(self, prepared: Prepared, hints: Hints, raster: Raster | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's hint pair: ``hint_colors (1, 3, S, S)`` in [0, 1] and ``hint_mask
        (1, 1, S, S)`` in {0, 1}, on the model's device. A model that ranks regions gets whole
        questions for the region colours (:meth:`questions`) and the whole region under each
        point or stroke (under most of its pixels), at the network size;
        the others get the points and strokes themselves (module docstring). ``raster``:
        the hints' :meth:`rasterize` when already done."""
        size = self.size
        raster = self.rasterize(prepared, hints) if raster is None else raster
        colors = np.zeros((3, size, size), np.float32)
        mask = np.zeros((1, size, size), np.float32)
        if self.guidance.regions:
            # whole questions (the model's segments snapped to the regions), as in training
            for index, color in enumerate(hints.regions[: len(prepared.questions)]):
                if color is not None:
                    _paint(colors, mask, np.isin(prepared.network_regions, prepared.questions[index]), color)
            for rows, cols, color in raster.network:  # a point fills the region under it
                under = prepared.network_regions[rows, cols]
                under = under[under >= 0]
                if under.size:
                    _paint(colors, mask, prepared.network_regions == int(np.bincount(under).argmax()), color)
                else:
                    colors[:, rows, cols] = channel_values(color, rows)
                    mask[0, rows, cols] = 1.0
        else:
            for rows, cols, color in raster.network:
                colors[:, rows, cols] = channel_values(color, rows)
                mask[0, rows, cols] = 1.0
        return self._on_device(colors), self._on_device(mask)

    def _on_device(self, array: np.ndarray) -> torch.Tensor:
        """(C, S, S) numpy -> (1, C, S, S) on the model's device, in its memory format."""
        return torch.from_numpy(array)[None].to(self.device).contiguous(memory_format=self._memory_format)

    def inputs(self, prepared: Prepared, request: Request, raster: Raster) -> Inputs:
        """The network-size :class:`Inputs` of a checked ``request`` (module docstring)."""
        guidance, hints = self.guidance, request.hints
        hint_colors = hint_mask = None
        if guidance.regions or guidance.points:
            hint_colors, hint_mask = self.hint_tensors(prepared, hints, raster)
        reference = tags = style = scribbles = None
        if request.reference is not None:
            reference = fit_square(request.reference, self.size)[None].to(self.device)
        if guidance.tags:
            tags = torch.tensor([[float(tag in hints.tags) for tag in guidance.tags]], device=self.device)
        if guidance.style_dim:
            given = request.style_code if request.style_code is not None else hints.style
            style = style_code(given, guidance.style_dim).to(self.device)
        if guidance.scribbles:
            mask = np.zeros((1, self.size, self.size), np.float32)
            if raster.scribbles is not None:
                mask[0] = raster.scribbles
            scribbles = self._on_device(mask)
        return Inputs(sketch=prepared.network_sketch, hint_colors=hint_colors, hint_mask=hint_mask,
                      reference=reference, tags=tags, style=style, scribbles=scribbles, prepared=prepared.method)

    def colorize(
        self,
        sketch,
        *,
        hints=None,
        regions_colors=None,
        reference=None,
        tags=None,
        style=None,
        scribbles=None,
        request: Request | None = None,
        seed: int | None = None,
        exact_hints: bool = True,
    ) -> Result:
        """Colorize a sketch at its full size.

        sketch: see :meth:`prepare`, or a :class:`Prepared` (fast repeated hint updates).
        hints: a :class:`~tinct.hintfile.Hints`, a dict in the hint-file schema, or a hint
        file path. regions_colors: colours for the ranked regions in order (``"#rrggbb"``,
        ``"#rgb"``, RGB triples in [0, 1], or None to skip one); replaces the hints' ``regions``.
        reference: a colour image (path, array or ``(3, H, W)`` tensor). tags: colour tags of
        the model's vocabulary; style: a style seed (a whole number), ``"A,B@T"`` (the style
        between seeds A and B, T in [0, 1]) or a code tensor ``(style_dim,)`` / ``(1,
        style_dim)``; scribbles: polylines
        (``{"points": [[x, y], ...], "width": w}``); each replaces the hints' own.
        request: a ready :class:`~tinct.guidance.Request` instead of the arguments above.
        Whatever the model does not take is an error naming what it takes.
        seed: seeds the random numbers a method draws at inference. exact_hints: give the
        region under each point/stroke, and the regions mostly inside each coloured ranked
        region, exactly the hint's colour.
        """
        if request is None:
            request = Request.build(hints, regions_colors=regions_colors, reference=reference, tags=tags,
                                    style=style, scribbles=scribbles, max_pixels=self.max_pixels)
        self.check(request)
        prepared = self.walled(self.prepare(sketch), request.hints)
        raster = self.rasterize(prepared, request.hints)
        inputs = self.inputs(prepared, request, raster)
        unhinted = None
        if self.local_hints and _local(request.hints):
            unhinted = self._unhinted(prepared, request, seed)
        return self._compose(prepared, self._paint(inputs, seed), request.hints, raster,
                             exact_hints=exact_hints, unhinted=unhinted)

    def _paint(self, inputs: Inputs, seed: int | None) -> torch.Tensor:
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            if seed is not None:
                torch.manual_seed(seed)
            return self.model.paint(inputs)

    def _unhinted(self, prepared: Prepared, request: Request, seed: int | None) -> np.ndarray:
        """The region colours (:meth:`_region_colors`) of the network's output for ``request``
        without its local hints (points, strokes, region colours), kept in ``prepared`` per
        remaining guidance and seed (the scribbles in the key also fix the walled regions)."""
        hints = replace(request.hints, points=(), strokes=(), regions=())
        bare = Request(hints=hints, reference=request.reference, style_code=request.style_code)
        raster = self.rasterize(prepared, hints)
        inputs = self.inputs(prepared, bare, raster)
        key = (_digest(inputs.reference), _digest(inputs.tags), _digest(inputs.style), _digest(inputs.scribbles), seed)
        if key not in prepared.unhinted:
            if len(prepared.unhinted) >= 4:  # a few guidance variants in an app session
                prepared.unhinted.pop(next(iter(prepared.unhinted)))
            prepared.unhinted[key] = self._region_colors(prepared, self._paint(inputs, seed))[1]
        return prepared.unhinted[key]

    def _compose(self, prepared: Prepared, painted: torch.Tensor, hints: Hints, raster: Raster, *,
                 exact_hints: bool, unhinted: np.ndarray | None = None) -> Result:
        """Network output -> flat colours per full-resolution region -> lines on top.
        unhinted: the region colours without local hints, for the regions no hint reaches."""
        network, means = self._region_colors(prepared, painted)
        labels = prepared.regions
        hinted = np.zeros(len(means), bool)  # regions a hint reaches
        exact = {}
        for index, color in enumerate(hints.regions[: len(prepared.questions)]):
            if color is not None:  # a question's colour goes exactly to its regions (later ones win)
                hinted[prepared.questions[index]] = True
                exact.update(dict.fromkeys(prepared.questions[index].tolist(), color))
        for rows, cols, color in raster.full:
            under = np.bincount(labels[rows, cols].ravel(), minlength=len(means))
            # the region under most of it gets the colour; every region holding a fifth of a
            # stroke is reached by it (takes the hinted output)
            hinted |= under >= max(1, 0.2 * under.sum())
            exact[int(under.argmax())] = color
            hinted[int(under.argmax())] = True
        if unhinted is not None:
            means[~hinted] = unhinted[~hinted]
        if exact_hints:
            for label, color in exact.items():
                means[label] = color
        clear = prepared.background & ~hinted  # the paper around the drawing, no hint there
        if self.paper_background:
            means[clear] = 1.0
        colors = np.ascontiguousarray(means.astype(np.float32).T)  # (3, K + 1)
        flat = torch.from_numpy(np.take(colors, labels, axis=1))  # (3, H, W)
        image = flat * prepared.sketch  # multiply, then the ink kept exactly
        if prepared.ink_pixels is None:
            index = torch.from_numpy(np.flatnonzero(prepared.ink))
            prepared.ink_pixels = (index, prepared.original.reshape(3, -1)[:, index])
        index, values = prepared.ink_pixels
        image.view(3, -1)[:, index] = values
        return Result(image=image, flat=flat, regions=labels, network_small=network, guide_regions=prepared.guide_regions,
                      sketch=prepared.sketch, ink=prepared.ink, background=clear[labels], hints=hints, raster=raster,
                      questions=len(prepared.questions), warnings=_unused_colors(prepared, hints, self.guidance))

    def _region_colors(self, prepared: Prepared, painted: torch.Tensor) -> tuple[torch.Tensor, np.ndarray]:
        """The network output over the picture at the network size ``(3, h, w)`` and the mean
        colour of each region's paper pixels ``(K + 1, 3)`` in that output scaled to full size
        (a region's line pixels are often dark or bled; regions of ink only use all their
        pixels): one sparse product (:func:`region_mean_operator`, built once per sketch, about
        50 ms at 2048 px), without making the full-size picture."""
        top, left, box_h, box_w = prepared.box
        crop = painted[0, :, top : top + box_h, left : left + box_w].float().cpu().contiguous()
        if prepared.means_operator is None:
            prepared.means_operator = region_mean_operator(prepared.regions, _counted(prepared), (box_h, box_w))
        return crop, prepared.means_operator @ crop.reshape(3, -1).double().numpy().T


def _local(hints: Hints) -> bool:
    """Whether ``hints`` hold local hints (points, strokes, region colours)."""
    return bool(hints.points or hints.strokes or any(color is not None for color in hints.regions))


def _digest(tensor: torch.Tensor | None):
    """A cache key for an input tensor (None stays None)."""
    if tensor is None:
        return None
    return tuple(tensor.shape), hashlib.sha1(tensor.detach().float().cpu().numpy().tobytes()).hexdigest()


def _paint(colors: np.ndarray, mask: np.ndarray, inside: np.ndarray, color) -> None:
    colors[:, inside] = np.asarray(color, np.float32)[:, None]
    mask[0, inside] = 1.0


def _first_question(prepared: Prepared) -> np.ndarray:
    """int64 ``(K + 1,)``: the first question asking about each region label (-1: none)."""
    first = np.full(int(prepared.regions.max()) + 1, -1, np.int64)
    for index in reversed(range(len(prepared.questions))):
        first[prepared.questions[index]] = index
    return first


def _unused_colors(prepared: Prepared, hints: Hints, guidance: Guidance) -> tuple[str, ...]:
    """A warning for region colours past the questions this sketch has (they go nowhere)."""
    from tinct.color import format_color

    if not guidance.regions:
        return ()
    extra = [(index, color) for index, color in enumerate(hints.regions)
             if color is not None and index >= len(prepared.questions)]
    if not extra:
        return ()
    given = ", ".join(f"{index + 1} ({format_color(color)})" for index, color in extra[:3])
    if len(extra) > 3:
        given += f" and {len(extra) - 3} more (up to {extra[-1][0] + 1})"
    return (f"region colour{'s' if len(extra) > 1 else ''} {given} went nowhere: the model asks about "
            f"{len(prepared.questions)} regions of this sketch",)


def _counted(prepared: Prepared) -> np.ndarray:
    """bool ``(H, W)``: the pixels a region's colour is averaged over: its paper pixels, or all
    its pixels for a region of ink only."""
    labels, paper = prepared.regions, ~prepared.ink
    count = int(labels.max()) + 1
    empty = np.bincount(labels[paper].ravel(), minlength=count) == 0
    empty[0] = False
    return paper | empty[labels] if empty.any() else paper


def _axis_operator(small: int, full: int, shrinking: bool) -> np.ndarray:
    """``(full, small)``: what :func:`tinct.image.resize` does along one axis (area when the
    picture shrinks, antialiased bilinear when it grows; it is separable), read off by
    resizing the basis vectors."""
    import torch.nn.functional as F

    basis = torch.eye(small, dtype=torch.float64)[None, None]  # column k is e_k
    if shrinking:
        out = F.interpolate(basis, size=(full, small), mode="area")
    else:
        out = F.interpolate(basis, size=(full, small), mode="bilinear", align_corners=False, antialias=True)
    return out[0, 0].numpy()


def region_mean_operator(labels: np.ndarray, counted: np.ndarray, small: tuple[int, int]):
    """A sparse ``(K + 1, h * w)`` matrix M such that ``M @ x.reshape(C, -1).T`` is, for every
    label of ``labels (H, W)``, the mean over its ``counted`` pixels of ``resize(x, (H, W))``
    (:func:`tinct.image.resize`) — without making the full-size picture. resize is linear and
    separable (``R_y x R_x^T``), so a region's sum is a weighted sum of x's pixels; the weights
    are summed per run of one label along each row (prefix sums of R_x), then spread over R_y's
    few rows. A label with no counted pixel gets a zero row. Exact to float rounding."""
    from scipy import sparse

    height, width = labels.shape
    h, w = small
    shrinking = height <= h and width <= w
    ry, rx = _axis_operator(h, height, shrinking), _axis_operator(w, width, shrinking)
    count = int(labels.max()) + 1
    # runs of one label (and one counted state) along each row
    start = np.ones((height, width), bool)
    start[:, 1:] = (labels[:, 1:] != labels[:, :-1]) | (counted[:, 1:] != counted[:, :-1])
    rows, first = np.nonzero(start)
    last = np.append(first[1:] - 1, width - 1)
    last[np.append(rows[1:] != rows[:-1], True)] = width - 1  # a row's last run ends at its end
    keep = counted[rows, first]
    rows, first, last = rows[keep], first[keep], last[keep]
    run_labels = labels[rows, first].astype(np.int64)
    # each run's sum of R_x over its columns: entries (run, b) for the b's the run touches
    prefix = np.vstack([np.zeros((1, w)), np.cumsum(rx, axis=0)])  # (W + 1, w)
    touched = rx != 0
    b_first, b_last = touched.argmax(axis=1), w - 1 - touched[:, ::-1].argmax(axis=1)
    low, span = b_first[first], b_last[last] - b_first[first] + 1
    run = np.repeat(np.arange(len(rows)), span)
    b = np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span) + np.repeat(low, span)
    summed = prefix[last[run] + 1, b] - prefix[first[run], b]
    # spread over the rows a of x that the run's row i reads: R_y[i, a]
    touched = ry != 0
    a_first, a_last = touched.argmax(axis=1), h - 1 - touched[:, ::-1].argmax(axis=1)
    i = rows[run]
    spread = a_last[i] - a_first[i] + 1
    entry = np.repeat(np.arange(len(summed)), spread)
    a = np.arange(spread.sum()) - np.repeat(np.cumsum(spread) - spread, spread) + np.repeat(a_first[i], spread)
    label = run_labels[run][entry]
    area = np.bincount(labels[counted].ravel().astype(np.int64), minlength=count).astype(np.float64)
    values = summed[entry] * ry[i[entry], a] / np.maximum(area, 1.0)[label]
    return sparse.csr_matrix((values, (label, a * w + b[entry])), shape=(count, h * w))
