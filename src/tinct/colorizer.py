"""Colorize line art with a trained model, at the sketch's own resolution.

``Colorizer.from_pretrained(name_or_folder)`` loads any checkpoint folder
(``config.json`` + ``model.safetensors``; see :mod:`tinct.methods.pretrained`) or a shipped
model by name (``checkpoints/<name>`` of the repository, or of ``$TINCT_CHECKPOINTS``).
``colorize(sketch, hints=..., regions_colors=..., reference=..., seed=...)`` returns a
:class:`Result`: the colour image, the flat colours, the region map and, for
GuidingPainter, the ranked guide regions, all at the input's full size.

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
   and so does every region lying mostly inside a ranked region the user gave a colour;
4. the lines are multiplied over the flat colours (``flat x sketch luminance``) and every
   ink pixel (darker than ``threshold``) is copied from the input unchanged, so the lines
   of the result are the input's lines, pixel for pixel.

How hints reach each method:

- GuidingPainter: ``regions_colors[i]`` fills the i-th ranked segment (None skips it);
  a point or stroke fills the whole ranked segment under it (under most of its pixels)
  with its colour. The network sees the filled segments as its hint, as in training.
- point-hint model: points and strokes become hint patches (hint_colors, hint_mask) at the
  network size; it has no ranked regions, so ``regions_colors`` is an error.
- a model whose ``colorize`` takes ``reference=`` (reference-based methods) gets the
  reference image fitted to the network size; the others raise a clear error for one.
"""

from __future__ import annotations

import inspect
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from safetensors import SafetensorError
from torch import nn

from tinct.hintfile import Hints, hint_pixels, load_hints
from tinct.image import MAX_PIXELS, fit_square, load_image, resize, save_image, square_box
from tinct.regions import stroke_width, trapped_ball

__all__ = ["Colorizer", "Prepared", "Result", "find_model", "load_model"]

DEFAULT_MODEL = "guiding_painter"
DEFAULT_SIZE = 128  # the shipped models' training size


# ----------------------------------------------------------------------------- models


def _repository_root() -> Path | None:
    """The folder holding ``pyproject.toml`` above this file (a source checkout), if any."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file():
            return parent
    return None


def _checkpoint_folders() -> list[Path]:
    folders = []
    if os.environ.get("TINCT_CHECKPOINTS"):
        folders.append(Path(os.environ["TINCT_CHECKPOINTS"]))
    root = _repository_root()
    if root is not None:
        folders.append(root / "checkpoints")
    return folders


def find_model(spec: str | os.PathLike) -> Path:
    """A checkpoint folder, or a shipped model's name -> its folder.

    A name (no path separator) is looked up as ``$TINCT_CHECKPOINTS/<name>``, then as
    ``checkpoints/<name>`` of the repository. Raises FileNotFoundError saying where it looked.
    """
    path = Path(spec)
    if path.is_dir():
        return path
    text = str(spec)
    if os.sep in text or (os.altsep and os.altsep in text) or path.exists():
        raise FileNotFoundError(f"no model folder {path} (a checkpoint folder holds config.json + model.safetensors)")
    candidates = [folder / text for folder in _checkpoint_folders()]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    known = sorted({p.name for folder in _checkpoint_folders() if folder.is_dir() for p in folder.iterdir()
                    if (p / "config.json").is_file()})
    looked = ", ".join(str(c) for c in candidates) or "(no checkpoints folder found)"
    raise FileNotFoundError(f"no model named {text!r}: looked in {looked}; "
                            f"shipped models here: {', '.join(known) or 'none'}; or give a checkpoint folder")


def load_model(folder: str | os.PathLike) -> nn.Module:
    """Load a checkpoint folder with the method its ``config.json`` names, in eval mode."""
    from tinct.methods import METHODS

    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{folder} holds no config.json: not a tinct checkpoint folder")
    try:
        values = json.loads(config_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{config_path}: unreadable ({error})") from None
    method = values.get("method") if isinstance(values, dict) else None
    if method not in METHODS:
        raise ValueError(f"{config_path}: unknown method {method!r}; known methods: {', '.join(sorted(METHODS))}")
    try:
        return METHODS[method].from_pretrained(folder)
    except (SafetensorError, RuntimeError, TypeError) as error:  # corrupt file, weights of another shape
        raise ValueError(f"{folder}: cannot load the {method} checkpoint ({error})") from None


# ----------------------------------------------------------------------------- inputs


def _composite_on_white(array: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 4) -> float32 (H, W, 3) in [0, 1]."""
    pixels = array.astype(np.float32) / 255.0
    alpha = pixels[..., 3:4]
    return pixels[..., :3] * alpha + (1.0 - alpha)


def _as_image(image, what: str = "sketch") -> torch.Tensor:
    """A path, PIL image, numpy array or tensor -> float32 ``(1|3, H, W)`` in [0, 1] (CPU)."""
    if isinstance(image, (str, os.PathLike)):
        return load_image(image)
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGBA"))
    if isinstance(image, np.ndarray):
        if image.dtype == np.uint8:
            if image.ndim == 3 and image.shape[2] == 4:
                image = _composite_on_white(image)
            else:
                image = image.astype(np.float32) / 255.0
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


def _as_hints(hints) -> Hints:
    if hints is None:
        return Hints()
    if isinstance(hints, Hints):
        return hints
    if isinstance(hints, dict):
        return Hints.from_dict(hints)
    if isinstance(hints, (str, os.PathLike)):
        return load_hints(hints)
    raise TypeError(f"hints must be a Hints, a dict in the hint-file schema or a hint file path, "
                    f"got {type(hints).__name__}")


# ----------------------------------------------------------------------------- results


@dataclass
class Prepared:
    """Everything about one sketch that does not depend on the hints (reuse it for fast
    hint updates: :meth:`Colorizer.colorize` accepts it in place of the sketch).

    original: ``(3, H, W)`` the input pixels in [0, 1]; sketch: ``(1, H, W)`` luminance
    (1 = paper); ink: bool ``(H, W)``; regions: int32 ``(H, W)`` trapped-ball labels 1..K;
    network_sketch: ``(1, 1, S, S)`` the network's input, on the model's device; box:
    ``(top, left, h, w)`` of the picture inside it; guide: ``(1, N, S, S)`` one-hot ranked
    segments (GuidingPainter) or None; guide_ranks: int64 ``(S, S)`` their argmax (the rank
    of each pixel's segment) and guide_regions: int64 ``(H, W)`` the same at full size.
    """

    original: torch.Tensor
    sketch: torch.Tensor
    ink: np.ndarray
    regions: np.ndarray
    network_sketch: torch.Tensor
    box: tuple[int, int, int, int]
    guide: torch.Tensor | None = None
    guide_ranks: np.ndarray | None = None
    guide_regions: np.ndarray | None = None

    @property
    def height(self) -> int:
        return int(self.original.shape[1])

    @property
    def width(self) -> int:
        return int(self.original.shape[2])


@dataclass
class Result:
    """A colorization at the input's full size ``H x W``.

    image: ``(3, H, W)`` RGB in [0, 1], the final image (lines over flat colours);
    flat: ``(3, H, W)`` the flat colours, one colour per region, no lines;
    regions: int32 ``(H, W)`` the trapped-ball region map (labels 1..K);
    network: ``(3, H, W)`` the network's own output scaled to full size (shaded, unflattened);
    guide_regions: int64 ``(H, W)`` rank of the GuidingPainter segment of each pixel (0 = the
    region the model asks about first), or None for methods without a ranking;
    sketch: ``(1, H, W)`` input luminance; ink: bool ``(H, W)`` the line pixels kept exactly;
    background: bool ``(H, W)`` the region touching the image border most;
    hints: the hints used.
    """

    image: torch.Tensor
    flat: torch.Tensor
    regions: np.ndarray
    network: torch.Tensor
    guide_regions: np.ndarray | None
    sketch: torch.Tensor
    ink: np.ndarray
    background: np.ndarray
    hints: Hints

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
        """The lines alone: uint8 ``(H, W, 4)``, black with alpha = ink darkness (1 - luminance),
        transparent on paper. Over the flat colours it gives ``flat x luminance``."""
        alpha = _uint8(1.0 - self.sketch)
        return np.concatenate([np.zeros(alpha.shape + (3,), np.uint8), alpha[..., None]], axis=2)

    def flat_layer(self, *, transparent: bool = False) -> np.ndarray:
        """The flat colours as uint8 ``(H, W, 4)``; transparent: the background region clear."""
        rgb = _uint8(self.flat)
        alpha = np.full(rgb.shape[:2], 255, np.uint8)
        if transparent:
            alpha[self.background] = 0
        return np.concatenate([rgb, alpha[..., None]], axis=2)

    def save(self, path: str | os.PathLike, *, transparent: bool = False) -> Path:
        """Write ``.png`` (RGBA with ``transparent``) or ``.ora`` (layers, topmost first: lines,
        flat colours, the final image hidden; the final image is also the composite). Other
        image suffixes (.jpg, .webp, ...) get the RGB image."""
        from tinct.ora import Layer, write_ora

        path = Path(path)
        suffix = path.suffix.lower()
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
            raise ValueError(f"{path}: a transparent background needs a .png or .ora file")
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
    channels-last memory format (faster on CPU; the model is converted in place).
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
    ) -> None:
        if size < 8:
            raise ValueError(f"size must be at least 8 px, got {size}")
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

    @classmethod
    def from_pretrained(cls, model: str | os.PathLike = DEFAULT_MODEL, *, device: str | torch.device = "cpu",
                        **options) -> Colorizer:
        """Load a checkpoint folder, or a shipped model by name (:func:`find_model`).
        ``options`` go to the constructor (``size``, ``threshold``, ...)."""
        return cls(load_model(find_model(model)).to(device), **options)

    # -- what the model takes

    @property
    def method(self) -> str:
        return getattr(self.model, "name", type(self.model).__name__)

    @property
    def device(self) -> torch.device:
        parameter = next(self.model.parameters(), None)
        return parameter.device if parameter is not None else torch.device("cpu")

    def _is(self, method: str) -> bool:
        from tinct.methods import METHODS

        return method in METHODS and isinstance(self.model, METHODS[method])

    @property
    def takes_regions(self) -> bool:
        """Whether the model ranks regions (``regions_colors`` / a hint file's ``regions``)."""
        return self._is("guiding_painter")

    @property
    def takes_points(self) -> bool:
        """Whether the model takes point and stroke hints."""
        return self._is("guiding_painter") or self._is("point_hints")

    @property
    def takes_reference(self) -> bool:
        """Whether the model's ``colorize`` takes a ``reference`` image."""
        colorize = getattr(self.model, "colorize", None)
        if colorize is None:
            return False
        try:
            return "reference" in inspect.signature(colorize).parameters
        except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
            return False

    # -- the pipeline

    def prepare(self, sketch) -> Prepared:
        """The hint-independent work for one sketch: full-resolution region map, the
        network's input and (GuidingPainter) the ranked segments.

        sketch: a path, PIL image, uint8/float numpy array ``(H, W[, 3|4])`` or tensor
        ``(1|3, H, W)`` in [0, 1] (1 = paper); colour images are read as their luminance.
        """
        if isinstance(sketch, Prepared):
            if tuple(sketch.network_sketch.shape[-2:]) != (self.size, self.size):
                raise ValueError(f"this sketch was prepared for a {sketch.network_sketch.shape[-1]} px network, "
                                 f"not {self.size} px: prepare it again with this colorizer")
            return sketch
        original = _as_image(sketch)
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
        prepared = Prepared(original=original, sketch=luminance, ink=ink, regions=regions,
                            network_sketch=network_sketch, box=box)
        if self.takes_regions:
            with torch.inference_mode():
                prepared.guide = self.model.rank_regions(network_sketch)
            ranks = prepared.guide[0].argmax(0).cpu()  # (S, S)
            top, left, box_h, box_w = box
            prepared.guide_ranks = ranks.numpy()
            crop = ranks[top : top + box_h, left : left + box_w]
            prepared.guide_regions = resize(crop, tuple(original.shape[1:]), labels=True).numpy()
        return prepared

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

    def hint_tensors(self, prepared: Prepared, hints: Hints) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's hint pair for ``hints``: ``hint_colors (1, 3, S, S)`` in [0, 1] and
        ``hint_mask (1, 1, S, S)`` in {0, 1}, on the model's device (see the module docstring
        for how each method reads points, strokes and region colours)."""
        size = self.size
        if any(color is not None for color in hints.regions) and not self.takes_regions:
            raise ValueError(f"the {self.method} model has no ranked regions: region colours need a "
                             f"guiding_painter model (use points or strokes instead)")
        if (hints.points or hints.strokes) and not self.takes_points:
            raise ValueError(f"the {self.method} model takes no point or stroke hints")
        shapes = hint_pixels(hints, size, size, box=prepared.box)
        if self.takes_regions:
            segments = prepared.guide[0]  # (N, S, S)
            if len(hints.regions) > segments.shape[0]:
                raise ValueError(f"{len(hints.regions)} region colours given, but the model ranks only "
                                 f"{segments.shape[0]} regions")
            owner = prepared.guide_ranks  # (S, S) rank of each pixel's segment
            fills = {rank: color for rank, color in enumerate(hints.regions) if color is not None}
            for rows, cols, color in shapes:
                fills[int(np.bincount(owner[rows, cols]).argmax())] = color
            colors = np.zeros((3, size, size), np.float32)
            mask = np.zeros((1, size, size), np.float32)
            for rank, color in fills.items():
                inside = owner == rank
                colors[:, inside] = np.asarray(color, np.float32)[:, None]
                mask[0, inside] = 1.0
        else:
            colors = np.zeros((3, size, size), np.float32)
            mask = np.zeros((1, size, size), np.float32)
            for rows, cols, color in shapes:
                colors[:, rows, cols] = np.asarray(color, np.float32)[:, None]
                mask[0, rows, cols] = 1.0
        device, memory_format = self.device, self._memory_format
        return (torch.from_numpy(colors)[None].to(device).contiguous(memory_format=memory_format),
                torch.from_numpy(mask)[None].to(device).contiguous(memory_format=memory_format))

    @torch.inference_mode()
    def _paint(self, prepared: Prepared, hints: Hints, reference) -> torch.Tensor:
        """The network's output (1, 3, S, S) in [0, 1]."""
        sketch = prepared.network_sketch
        if reference is not None:
            if not self.takes_reference:
                raise ValueError(f"the {self.method} model does not take a reference image "
                                 f"(use a reference-based model such as SCFT)")
            if not hints.is_empty:
                raise ValueError(f"the {self.method} model takes a reference image, not hints")
            image = _as_image(reference, "reference")
            image = image.expand(3, -1, -1) if image.shape[0] == 1 else image
            return self.model.colorize(sketch, reference=fit_square(image, self.size)[None].to(self.device))
        if self._is("guiding_painter"):
            hint_colors, hint_mask = self.hint_tensors(prepared, hints)
            return self.model(sketch, hint_colors, hint_mask, prepared.guide)
        if self._is("point_hints"):
            hint_colors, hint_mask = self.hint_tensors(prepared, hints)
            return self.model(sketch, hint_colors, hint_mask)
        if not hints.is_empty:
            raise ValueError(f"the {self.method} model takes no hints")
        if self.takes_reference:
            raise ValueError(f"the {self.method} model needs a reference image")
        return self.model.colorize(sketch)

    def colorize(
        self,
        sketch,
        *,
        hints=None,
        regions_colors=None,
        reference=None,
        seed: int | None = None,
        exact_hints: bool = True,
    ) -> Result:
        """Colorize a sketch at its full size.

        sketch: see :meth:`prepare`, or a :class:`Prepared` (fast repeated hint updates).
        hints: a :class:`~tinct.hintfile.Hints`, a dict in the hint-file schema, or a hint
        file path. regions_colors: colours for the ranked regions in order (``"#rrggbb"``,
        RGB triples in [0, 1], or None to skip one); replaces the hints' ``regions``.
        reference: a colour image (path, array or ``(3, H, W)`` tensor) for models that take
        one. seed: seeds the random numbers a method draws at inference (the current ones
        draw none; results are deterministic either way). exact_hints: give the region under
        each point/stroke, and the regions mostly inside each coloured ranked region, exactly
        the hint's colour.
        """
        hints = _as_hints(hints)
        if regions_colors is not None:
            hints = hints.with_regions(regions_colors)
        prepared = self.prepare(sketch)
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            if seed is not None:
                torch.manual_seed(seed)
            painted = self._paint(prepared, hints, reference)
        return self._compose(prepared, painted, hints, exact_hints=exact_hints)

    def _compose(self, prepared: Prepared, painted: torch.Tensor, hints: Hints, *, exact_hints: bool) -> Result:
        """Network output -> flat colours per full-resolution region -> lines on top."""
        top, left, box_h, box_w = prepared.box
        height, width = prepared.height, prepared.width
        crop = painted[0, :, top : top + box_h, left : left + box_w].float().cpu().contiguous()
        network = crop if (box_h, box_w) == (height, width) else resize(crop, (height, width))
        labels = prepared.regions
        count = int(labels.max()) + 1
        flat_labels = labels.ravel()
        pixels = network.permute(1, 2, 0).reshape(-1, 3).numpy()
        paper = ~prepared.ink.ravel()
        # mean network colour of each region's paper pixels (its line pixels are often dark
        # or bled); regions of ink only use all their pixels
        means = _label_means(flat_labels[paper], pixels[paper], count)
        empty = np.bincount(flat_labels[paper], minlength=count) == 0
        if empty[1:].any():
            means[empty] = _label_means(flat_labels, pixels, count)[empty]
        if exact_hints and prepared.guide_regions is not None and any(c is not None for c in hints.regions):
            # a ranked region's colour goes exactly to the full-size regions mostly inside it
            ranks = prepared.guide_regions.ravel().astype(np.int64)
            num_ranks = int(ranks.max()) + 1
            votes = np.bincount(flat_labels.astype(np.int64) * num_ranks + ranks,
                                minlength=count * num_ranks).reshape(count, num_ranks)
            majority = np.where(votes.any(axis=1), votes.argmax(axis=1), -1)  # rank of each region; -1: absent
            for rank, color in enumerate(hints.regions):
                if color is not None:
                    means[majority == rank] = color
        if exact_hints:
            for rows, cols, color in hint_pixels(hints, height, width):
                means[int(np.bincount(labels[rows, cols]).argmax())] = color
        flat = torch.from_numpy(means.astype(np.float32)[labels]).permute(2, 0, 1)  # (3, H, W)
        ink = torch.from_numpy(prepared.ink)
        image = torch.where(ink, prepared.original, flat * prepared.sketch)  # multiply; ink kept exactly
        border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
        background = labels == int(np.bincount(border).argmax())
        return Result(image=image, flat=flat, regions=labels, network=network, guide_regions=prepared.guide_regions,
                      sketch=prepared.sketch, ink=prepared.ink, background=background, hints=hints)


def _label_means(labels: np.ndarray, pixels: np.ndarray, count: int) -> np.ndarray:
    """Mean of ``pixels (N, 3)`` per label of ``labels (N,)``: ``(count, 3)`` float64 (0 if absent)."""
    area = np.bincount(labels, minlength=count).astype(np.float64)
    sums = np.stack([np.bincount(labels, weights=pixels[:, c], minlength=count) for c in range(3)], axis=1)
    return sums / np.maximum(area, 1.0)[:, None]

