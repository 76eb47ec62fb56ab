"""One user's work on one sketch, as an immutable :class:`Session`, and the plain functions
the app's clicks call on it (each returns a new session, with an undo history), so that the
app's logic is tested without a browser."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from tinct.color import Color, normalize_color, parse_color
from tinct.colorizer import Colorizer, Prepared, Result
from tinct.guidance import GuidanceError, Request, closest_tags
from tinct.hintfile import DEFAULT_STROKE_WIDTH, Hints, Point, Scribble, Stroke, StyleMix, parse_style, save_hints
from tinct.image import fit_square, resize
from tinct.methods.base import DEFAULT_STYLE_SEED, Guidance

__all__ = [
    "DOWNLOADS",
    "PREVIEW_SIDE",
    "Session",
    "View",
    "add_point",
    "add_scribble_point",
    "add_stroke_point",
    "apply_color",
    "check_tags",
    "clear_hints",
    "clear_scribbles",
    "colorize",
    "dropped_guidance",
    "end_scribble",
    "end_stroke",
    "export_file",
    "export_files",
    "guidance_status",
    "kept_hints",
    "mix_styles",
    "region_order",
    "region_status",
    "set_style",
    "set_tags",
    "skip_region",
    "start_session",
    "style_name",
    "style_previews",
    "switch_model",
    "undo",
]

#: the longer side, in px, of a style preview (:func:`style_previews`)
PREVIEW_SIDE = 256


@dataclass(frozen=True)
class View:
    """How the app is set up for one user: ``model``, the name of the model in use (a name the
    app's model picker lists; ``""`` in an app of one model), and what its one picture shows:
    ``mode``, the kind of guidance whose tab is open (a key of
    :data:`tinct.methods.base.GUIDANCE_KINDS`: its marks are drawn on the picture and clicks on
    the picture are its clicks; ``""`` for none), and ``sketch``: the sketch instead of the
    colorized result."""

    mode: str = ""
    sketch: bool = False
    model: str = ""


@dataclass(frozen=True, eq=False)
class Session:
    """One user's work on one sketch.

    prepared: the colorizer's hint-independent work (region map, ranking);
    order: the questions the app asks, in order (:meth:`tinct.colorizer.Colorizer.questions`:
    the model's ranked segments snapped to the sketch's regions, then each region the model
    lumped with others on its own, largest first; empty for a model that ranks no regions). The numbering is
    ``--colors``' and the hint files' ``regions``;
    step: index into ``order`` of the region asked about now (``len(order)``: all done);
    hints: everything the user gave (``hints.regions[question]`` is a region's colour);
    stroke_open: the next stroke click extends the last stroke;
    scribble_open: the next scribble click extends the last scribble;
    reference: the reference picture (reference-based models; anything
    :meth:`tinct.guidance.Request.build` takes: the app keeps it fitted to the network's square,
    ``(3, S, S)`` in [0, 1]) or None;
    result: the latest colorization; history: earlier ``(hints, step, stroke_open, scribble_open)``
    for undo;
    key: names this session's output folder;
    view: what the app's picture shows (:class:`View`; no change to undo).
    """

    prepared: Prepared
    order: tuple[int, ...] = ()
    step: int = 0
    hints: Hints = field(default_factory=Hints)
    stroke_open: bool = False
    scribble_open: bool = False
    reference: torch.Tensor | np.ndarray | None = None
    result: Result | None = None
    history: tuple[tuple[Hints, int, bool, bool], ...] = ()
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    view: View = field(default_factory=View)

    @property
    def height(self) -> int:
        return self.prepared.height

    @property
    def width(self) -> int:
        return self.prepared.width

    @property
    def current_region(self) -> int | None:
        """The rank of the region the model asks about now, or None when all are done."""
        return self.order[self.step] if self.step < len(self.order) else None

    def with_view(self, view: View) -> Session:
        """The same work shown another way (no change to undo). Another model is not another
        view: its session comes from :func:`switch_model` (a ValueError here)."""
        if view.model != self.view.model:
            raise ValueError(f"a session prepared by model {self.view.model!r} cannot be shown as {view.model!r}'s: "
                             f"switch_model prepares it again")
        return self if view == self.view else replace(self, view=view)

    def _changed(self, **changes) -> Session:
        """A new session with ``changes``, the current hints pushed onto the undo history."""
        snapshot = (self.hints, self.step, self.stroke_open, self.scribble_open)
        return replace(self, history=self.history + (snapshot,), **changes)


def region_order(prepared: Prepared) -> tuple[int, ...]:
    """The questions of a prepared sketch, in order (``()`` for a model that ranks no regions)."""
    return tuple(range(len(prepared.questions)))


def start_session(colorizer: Colorizer, sketch, view: View | None = None) -> Session:
    """A new session for ``sketch`` (anything :meth:`Colorizer.prepare` takes), shown as ``view``
    (whose ``model`` names ``colorizer``)."""
    prepared = colorizer.prepare(sketch)
    return Session(prepared=prepared, order=region_order(prepared), view=view or View())


def kept_hints(hints: Hints, guidance: Guidance) -> Hints:
    """What of ``hints`` another model, which takes ``guidance``, keeps: the points and strokes,
    the colour tags of its vocabulary, the style and the scribbles, each when it takes that kind.
    Guided-region colours never carry over: they are numbered by the questions of the model that
    asked them."""
    points = guidance.accepts("points")
    return Hints(points=hints.points if points else (), strokes=hints.strokes if points else (),
                 tags=tuple(tag for tag in guidance.tags if tag in hints.tags),
                 style=hints.style if guidance.accepts("style") else None,
                 scribbles=hints.scribbles if guidance.accepts("scribbles") else ())


def switch_model(session: Session, colorizer: Colorizer, view: View) -> Session:
    """``session``'s sketch prepared by another model (``colorizer``, which ``view.model`` names)
    and shown as ``view``, with the guidance that model takes (:func:`kept_hints`; the reference
    picture when it takes one) and a fresh undo history (undo does not cross models); not painted
    yet, as :func:`start_session` (:func:`colorize` paints it). Downloads keep going to the same
    folder."""
    guidance = colorizer.guidance
    reference = session.reference if guidance.accepts("reference") else None
    if isinstance(reference, torch.Tensor) and reference.shape[-1] != colorizer.size:
        reference = fit_square(reference, colorizer.size)  # the app keeps it at the network's size
    fresh = start_session(colorizer, session.prepared.original, view)
    return replace(fresh, hints=kept_hints(session.hints, guidance), reference=reference, key=session.key)


def dropped_guidance(before: Session, after: Session) -> str:
    """The guidance ``before`` had that ``after`` (the same sketch, another model:
    :func:`switch_model`) lacks, in words (``"2 region colours, the reference picture"``; ``""``
    for none)."""
    old, new = before.hints, after.hints
    dropped = []

    def count(number: int, what: str) -> None:
        if number > 0:
            dropped.append(f"{number} {what}{'s' if number > 1 else ''}")

    count(sum(color is not None for color in old.regions), "region colour")
    count(len(old.points) - len(new.points), "point")
    count(len(old.strokes) - len(new.strokes), "stroke")
    count(len(old.tags) - len(new.tags), "colour tag")
    if old.style is not None and new.style is None:
        dropped.append("the style")
    count(len(old.scribbles) - len(new.scribbles), "scribble")
    if before.reference is not None and after.reference is None:
        dropped.append("the reference picture")
    return ", ".join(dropped)


def region_status(session: Session) -> str:
    """"Region k of N", or what to do when the model ranks no regions or all are done."""
    total = len(session.order)
    if total == 0:
        return "This model does not rank regions: use points and strokes."
    if session.step >= total:
        return f"All {total} regions done: refine with points and strokes, or undo."
    return f"Region {session.step + 1} of {total}"


def _rgb(color) -> Color:
    """Any colour :func:`tinct.color.parse_color` reads, as a hint file stores it (``#rrggbb``)."""
    return parse_color(normalize_color(color))


def apply_color(session: Session, color) -> Session:
    """Give the region asked about now ``color`` (any colour :func:`tinct.color.parse_color`
    reads) and move on to the next one. Raises ValueError when every region is done or the
    colour is not one."""
    rank = session.current_region
    if rank is None:
        raise ValueError("every region has been asked about: undo to change one, or use points and strokes")
    rgb = _rgb(color)
    regions = list(session.hints.regions) + [None] * max(0, rank + 1 - len(session.hints.regions))
    regions[rank] = rgb
    return session._changed(hints=replace(session.hints, regions=tuple(regions)), step=session.step + 1)


def skip_region(session: Session) -> Session:
    """Leave the region asked about now without a colour; move on to the next one."""
    if session.current_region is None:
        raise ValueError("every region has been asked about")
    return session._changed(step=session.step + 1)


def undo(session: Session) -> Session:
    """The session before the last change (the same session when there is nothing to undo)."""
    if not session.history:
        return session
    hints, step, stroke_open, scribble_open = session.history[-1]
    return replace(session, hints=hints, step=step, stroke_open=stroke_open, scribble_open=scribble_open,
                   history=session.history[:-1])


def _normalised(session: Session, x: float, y: float) -> tuple[float, float]:
    """Pixel coordinates of a click (column x, row y) -> the centre of that pixel in [0, 1]."""
    if not (0 <= x < session.width and 0 <= y < session.height):
        raise ValueError(f"({x}, {y}) lies outside the {session.width} x {session.height} sketch")
    return (int(x) + 0.5) / session.width, (int(y) + 0.5) / session.height


def add_point(session: Session, x: float, y: float, color, *, size: float = 0.02) -> Session:
    """A point hint at pixel ``(x, y)`` (column, row) of the sketch; ``size`` is the patch side
    as a fraction of the longer side. Closes an open stroke."""
    px, py = _normalised(session, x, y)
    point = Point(x=px, y=py, color=_rgb(color), size=float(size))
    hints = replace(session.hints, points=session.hints.points + (point,))
    return session._changed(hints=hints, stroke_open=False)


def add_stroke_point(session: Session, x: float, y: float, color, *, width: float = 0.01) -> Session:
    """Extend the open stroke to pixel ``(x, y)``, or start a new stroke there when none is
    open (or the colour or width changed)."""
    px, py = _normalised(session, x, y)
    rgb = _rgb(color)
    strokes = session.hints.strokes
    last = strokes[-1] if strokes else None
    if session.stroke_open and last is not None and last.color == rgb and last.width == float(width):
        strokes = strokes[:-1] + (replace(last, points=last.points + ((px, py),)),)
    else:
        strokes = strokes + (Stroke(points=((px, py),), color=rgb, width=float(width)),)
    return session._changed(hints=replace(session.hints, strokes=strokes), stroke_open=True)


def end_stroke(session: Session) -> Session:
    """Close the open stroke: the next stroke click starts a new one."""
    return replace(session, stroke_open=False)


def clear_hints(session: Session) -> Session:
    """Remove every point and stroke (region colours stay; undo brings them back)."""
    return session._changed(hints=replace(session.hints, points=(), strokes=()), stroke_open=False)


def add_scribble_point(session: Session, x: float, y: float, *, width: float = DEFAULT_STROKE_WIDTH) -> Session:
    """Extend the open scribble to pixel ``(x, y)`` (column, row), or start a new scribble there
    when none is open (or the width changed); ``width`` is a fraction of the longer side. A
    scribble is drawn over an edge where colour leaked (models that take scribbles)."""
    px, py = _normalised(session, x, y)
    width = float(width)
    if not 0.0 < width <= 1.0:
        raise ValueError(f"a scribble's width is a fraction of the longer side in (0, 1], got {width}")
    scribbles = session.hints.scribbles
    last = scribbles[-1] if scribbles else None
    if session.scribble_open and last is not None and last.width == width:
        scribbles = scribbles[:-1] + (replace(last, points=last.points + ((px, py),)),)
    else:
        scribbles = scribbles + (Scribble(points=((px, py),), width=width),)
    return session._changed(hints=replace(session.hints, scribbles=scribbles), scribble_open=True)


def end_scribble(session: Session) -> Session:
    """Close the open scribble: the next scribble click starts a new one."""
    return replace(session, scribble_open=False)


def clear_scribbles(session: Session) -> Session:
    """Remove every scribble (undo brings them back)."""
    return session._changed(hints=replace(session.hints, scribbles=()), scribble_open=False)


def check_tags(tags, guidance: Guidance) -> tuple[str, ...]:
    """``tags`` (names, or one comma-separated string) as the hints keep them: each once, in the
    order of the model's vocabulary. A :class:`~tinct.guidance.GuidanceError` (a ValueError)
    names a tag outside the vocabulary and the closest known ones."""
    names = Request.build(tags=tags).hints.tags  # the hint files' check of each name
    if names and not guidance.tags:
        raise GuidanceError(f"this model takes no colour tags; it takes: {guidance.describe()}")
    for name in names:
        if name not in guidance.tags:
            near = closest_tags(name, guidance.tags)
            hint = f" (closest: {', '.join(near)})" if near else ""
            raise GuidanceError(f"this model has no tag {name!r}{hint}; its tags: {', '.join(guidance.tags)}")
    return tuple(tag for tag in guidance.tags if tag in names)


def set_tags(session: Session, tags, guidance: Guidance) -> Session:
    """The session with the colour tags ``tags`` (names of ``guidance.tags``, the model's
    vocabulary, in any order; ``()`` for none), replacing the tags before. The same session
    when they do not change; a ValueError for a tag the model does not know."""
    chosen = check_tags(tags, guidance)
    if chosen == session.hints.tags:
        return session
    return session._changed(hints=replace(session.hints, tags=chosen))


def set_style(session: Session, style) -> Session:
    """The session with ``style``: a seed (a whole number >= 0), ``"A,B@T"`` or a
    :class:`~tinct.hintfile.StyleMix` between two seeds, or None (the model's default seed).
    The same session when it does not change; a ValueError for anything else."""
    style = parse_style(style)
    if style == session.hints.style:
        return session
    return session._changed(hints=replace(session.hints, style=style))


def mix_styles(session: Session, first, second, t: float) -> Session:
    """The session with the style ``t`` of the way from seed ``first`` to seed ``second``
    (:class:`~tinct.hintfile.StyleMix`, linear in the style code); ``t`` 0 is seed ``first``
    itself and 1 is ``second``."""
    t = float(t)
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t, the way from one style to the other, must be in [0, 1], got {t}")
    first, second = parse_style(first, "seed A"), parse_style(second, "seed B")
    if not isinstance(first, int) or not isinstance(second, int):
        raise ValueError("a style is mixed between two seeds (whole numbers >= 0)")
    return set_style(session, first if t == 0.0 else second if t == 1.0 else StyleMix(first, second, t))


def style_name(style) -> str:
    """A style in words: ``"seed 3"``, ``"seeds 3 to 9 at 0.50"``; None is the default seed."""
    if isinstance(style, StyleMix):
        return f"seeds {style.first} to {style.second} at {style.t:.2f}"
    return f"seed {DEFAULT_STYLE_SEED if style is None else style}"


def guidance_status(session: Session, guidance: Guidance) -> str:
    """The guidance of the session's hints that the status line names, for the kinds ``guidance``
    takes: its colour tags, its style, its scribbles and the points of the one being drawn
    (``""`` for none of these)."""
    hints, parts = session.hints, []
    if guidance.accepts("tags"):
        parts.append(f"Tags: {', '.join(hints.tags)}." if hints.tags else "No colour tags.")
    if guidance.accepts("style"):
        parts.append(f"Style: {style_name(hints.style)}.")
    if guidance.accepts("scribbles") and hints.scribbles:
        count, drawn = len(hints.scribbles), len(hints.scribbles[-1].points)
        drawing = f" (drawing: {drawn} point{'s' if drawn > 1 else ''})" if session.scribble_open else ""
        parts.append(f"{count} scribble{'s' if count > 1 else ''}{drawing}.")
    return " ".join(parts)


def style_previews(colorizer: Colorizer, session: Session, seeds, *, side: int = PREVIEW_SIDE
                   ) -> tuple[tuple[int, np.ndarray], ...]:
    """The session painted with each style seed of ``seeds`` (the rest of its guidance kept), as
    small previews: ``(seed, uint8 (h, w, 3))``, the longer side at most ``side`` px. Each is
    exactly what :func:`colorize` gives with that seed, scaled down (one full-size result at a
    time). ``()`` while the model waits for guidance it requires."""
    previews = []
    for seed in seeds:
        seed = parse_style(seed)
        if not isinstance(seed, int):
            raise ValueError(f"a style preview takes a seed (a whole number >= 0), got {seed!r}")
        result = colorize(colorizer, replace(session, hints=replace(session.hints, style=seed))).result
        if result is None:
            return ()
        image = result.image
        scale = min(1.0, side / max(session.height, session.width))
        if scale < 1.0:
            image = resize(image, (max(1, round(session.height * scale)), max(1, round(session.width * scale))))
        array = (image.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()
        previews.append((seed, np.ascontiguousarray(array)))
    return tuple(previews)


def colorize(colorizer: Colorizer, session: Session) -> Session:
    """The session with ``result`` painted from its hints and its reference. A model that
    requires guidance the session lacks (``guidance.required``: a reference not uploaded
    yet) gives ``result=None``; guidance the model does not take raises
    :class:`~tinct.guidance.GuidanceError` (a ValueError)."""
    request = Request.build(session.hints, reference=session.reference)
    if any(kind not in request.kinds for kind in colorizer.guidance.required):
        return replace(session, result=None)
    return replace(session, result=colorizer.colorize(session.prepared, request=request))


#: what the app offers for download: suffix of the file by kind
DOWNLOADS = {"png": ".png", "psd": ".psd", "ora": ".ora", "hints": "_hints.json"}


def export_file(session: Session, folder: str | os.PathLike, kind: str, *, stem: str = "colorized") -> Path:
    """Write one download (``kind``, a key of :data:`DOWNLOADS`: the latest result as ``STEM.png``,
    layered ``STEM.psd`` or ``STEM.ora``, or the hints as ``STEM_hints.json``) into
    ``folder/<session key>/``; returns its path."""
    if kind not in DOWNLOADS:
        raise ValueError(f"no download of kind {kind!r} (one of {', '.join(DOWNLOADS)})")
    if session.result is None:
        raise ValueError("nothing to download yet: colorize the sketch first")
    target = Path(folder) / session.key
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{stem}{DOWNLOADS[kind]}"
    if kind == "hints":
        return save_hints(session.hints, path)
    return session.result.save(path)


def export_files(session: Session, folder: str | os.PathLike, *,
                 stem: str = "colorized") -> tuple[Path, Path, Path, Path]:
    """Write the latest result as ``STEM.png``, ``STEM.psd`` and ``STEM.ora`` and the hints as
    ``STEM_hints.json`` into ``folder/<session key>/``; returns the four paths (in that order)."""
    return tuple(export_file(session, folder, kind, stem=stem) for kind in ("png", "psd", "ora", "hints"))
