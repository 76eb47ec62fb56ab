"""One guidance request — hints, region colours, a reference, tags, a style, scribbles —
validated once against what a model declares (:class:`tinct.methods.base.Guidance`).

The API (:meth:`tinct.Colorizer.colorize`), the CLI (``tinct colorize``), hint files and the app
all build a :class:`Request` and call :func:`check_request`, so a misuse gets the same message
everywhere: ``model point_hints takes no reference image; it takes: points, strokes``.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, replace

import torch

from tinct.hintfile import Hints, Scribble, StyleMix, load_hints, parse_style
from tinct.methods.base import DEFAULT_STYLE_SEED, GUIDANCE_KINDS, Guidance, style_from_seed

__all__ = ["GuidanceError", "Request", "check_request", "closest_tags", "style_code"]

#: how an error names a kind the model does not take ("takes no ...")
_REFUSED = {
    "regions": "region colours (it ranks no regions; use points or strokes)",
    "points": "point or stroke hints",
    "reference": "reference image",
    "tags": "colour tags",
    "style": "style",
    "scribbles": "scribbles",
}


class GuidanceError(ValueError):
    """A request the model cannot take; the message names the model and what it takes."""


@dataclass(frozen=True)
class Request:
    """Everything a user gives for one colorization.

    hints: points, strokes, ranked-region colours, tags, style and scribbles (a
    :class:`~tinct.hintfile.Hints`, the content of a hint file); reference: a colour picture
    ``(3, H, W)`` in [0, 1] or None; style_code: a style code ``(1, style_dim)`` given as
    numbers (the API's ``style=`` tensor), which takes the place of the hints' style; None:
    the hints' style.
    """

    hints: Hints = Hints()
    reference: torch.Tensor | None = None
    style_code: torch.Tensor | None = None

    @classmethod
    def build(cls, hints=None, *, regions_colors=None, reference=None, tags=None, style=None,
              scribbles=None, max_pixels: int | None = None) -> Request:
        """A request from the API's arguments: ``hints`` a :class:`Hints`, a dict in the hint-file
        schema or a hint file path; ``regions_colors`` replaces its region colours; ``tags``,
        ``style`` and ``scribbles`` (``Scribble``s or ``{"points": ..., "width": ...}`` dicts)
        replace its own; ``style`` is a seed, ``"A,B@T"`` between two seeds (a
        :class:`~tinct.hintfile.StyleMix`) or a code tensor ``(style_dim,)`` / ``(1, style_dim)``;
        ``reference`` a path, PIL image, array or tensor, at most ``max_pixels`` (default
        :data:`tinct.image.MAX_PIXELS`), checked before decoding."""
        hints = _as_hints(hints)
        if regions_colors is not None:
            hints = hints.with_regions(regions_colors)
        if tags is not None:
            if isinstance(tags, str):
                tags = [t for t in tags.split(",") if t.strip()]
            hints = replace(hints, tags=Hints.from_dict({"version": 2, "tags": list(tags)}, source="tags").tags)
        code = None
        if isinstance(style, torch.Tensor):
            code = _as_code(style)
            hints = replace(hints, style=None)
        elif style is not None:
            hints = replace(hints, style=parse_style(style))
        if scribbles is not None:
            items = [s if isinstance(s, Scribble) else
                     Hints.from_dict({"version": 2, "scribbles": [s]}, source="scribbles").scribbles[0]
                     for s in scribbles]
            hints = replace(hints, scribbles=tuple(items))
        if reference is not None:
            from tinct.image import as_image

            reference = as_image(reference, "reference", max_pixels=max_pixels)
            reference = reference.expand(3, -1, -1).contiguous() if reference.shape[0] == 1 else reference
        return cls(hints=hints, reference=reference, style_code=code)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of guidance given, in :data:`GUIDANCE_KINDS` order."""
        given = (set(self.hints.kinds) | ({"reference"} if self.reference is not None else set())
                 | ({"style"} if self.style_code is not None else set()))
        return tuple(kind for kind in GUIDANCE_KINDS if kind in given)


def _as_code(style: torch.Tensor) -> torch.Tensor:
    """A style code tensor ``(style_dim,)`` or ``(1, style_dim)`` -> (1, style_dim) float32, finite."""
    if style.ndim not in (1, 2) or (style.ndim == 2 and style.shape[0] != 1) or style.shape[-1] < 1:
        raise ValueError(f"a style code is a tensor of shape (style_dim,) or (1, style_dim) (one picture), "
                         f"got {tuple(style.shape)}")
    code = style.detach().float().reshape(1, -1)
    if not bool(torch.isfinite(code).all()):
        raise ValueError("a style code must hold finite numbers")
    return code


def style_code(style, style_dim: int) -> torch.Tensor:
    """The code ``(1, style_dim)`` of a style: a seed (:func:`~tinct.methods.base.style_from_seed`),
    a :class:`~tinct.hintfile.StyleMix` (``(1 - t) w_first + t w_second``, linear in the code),
    None (the default seed, :data:`~tinct.methods.base.DEFAULT_STYLE_SEED`) or a code tensor
    ``(style_dim,)`` / ``(1, style_dim)``. The one place the product turns a style into numbers."""
    if isinstance(style, torch.Tensor):
        code = _as_code(style)
        if code.shape[1] != style_dim:
            raise ValueError(f"the style code has {code.shape[1]} numbers; this model's have {style_dim}")
        return code
    if isinstance(style, StyleMix):
        first, second = style_from_seed(style.first, style_dim), style_from_seed(style.second, style_dim)
        return (1.0 - style.t) * first + style.t * second
    return style_from_seed(DEFAULT_STYLE_SEED if style is None else style, style_dim)


def closest_tags(tag: str, vocabulary: tuple[str, ...], count: int = 3) -> list[str]:
    """The known tags most like ``tag`` (for "did you mean")."""
    return difflib.get_close_matches(tag, vocabulary, n=count, cutoff=0.4)


def check_request(request: Request, guidance: Guidance, model: str) -> None:
    """Raise :class:`GuidanceError` when ``request`` gives what ``guidance`` does not take, lacks
    what it requires, or names a tag outside its vocabulary. ``model`` names the model."""
    for kind in request.kinds:
        if not guidance.accepts(kind):
            raise GuidanceError(f"model {model} takes no {_REFUSED[kind]}; it takes: {guidance.describe()}")
    for kind in guidance.required:
        if kind not in request.kinds:
            raise GuidanceError(f"model {model} needs {GUIDANCE_KINDS[kind]}; it takes: {guidance.describe()}")
    code = request.style_code
    if code is not None and guidance.style_dim and code.shape != (1, guidance.style_dim):
        raise GuidanceError(f"model {model} takes style codes of {guidance.style_dim} numbers ((1, "
                            f"{guidance.style_dim}) or ({guidance.style_dim},)), got {tuple(code.shape)}")
    for tag in request.hints.tags:
        if tag not in guidance.tags:
            near = closest_tags(tag, guidance.tags)
            hint = f"; closest known: {', '.join(near)}" if near else ""
            raise GuidanceError(f"model {model} has no tag {tag!r}{hint} (list them with --list-tags)")


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

