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
from tinct.guidance import Request
from tinct.hintfile import Hints, Point, Stroke, save_hints

__all__ = [
    "Session",
    "add_point",
    "add_stroke_point",
    "apply_color",
    "clear_hints",
    "colorize",
    "end_stroke",
    "export_files",
    "region_order",
    "region_status",
    "skip_region",
    "start_session",
    "undo",
]

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
    reference: the reference picture (reference-based models; anything
    :meth:`tinct.guidance.Request.build` takes: the app keeps it fitted to the network's square,
    ``(3, S, S)`` in [0, 1]) or None;
    result: the latest colorization; history: earlier ``(hints, step, stroke_open)`` for undo;
    key: names this session's output folder.
    """

    prepared: Prepared
    order: tuple[int, ...] = ()
    step: int = 0
    hints: Hints = field(default_factory=Hints)
    stroke_open: bool = False
    reference: torch.Tensor | np.ndarray | None = None
    result: Result | None = None
    history: tuple[tuple[Hints, int, bool], ...] = ()
    key: str = field(default_factory=lambda: uuid.uuid4().hex)

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

    def _changed(self, **changes) -> Session:
        """A new session with ``changes``, the current hints pushed onto the undo history."""
        snapshot = (self.hints, self.step, self.stroke_open)
        return replace(self, history=self.history + (snapshot,), **changes)


def region_order(prepared: Prepared) -> tuple[int, ...]:
    """The questions of a prepared sketch, in order (``()`` for a model that ranks no regions)."""
    return tuple(range(len(prepared.questions)))


def start_session(colorizer: Colorizer, sketch) -> Session:
    """A new session for ``sketch`` (anything :meth:`Colorizer.prepare` takes)."""
    prepared = colorizer.prepare(sketch)
    return Session(prepared=prepared, order=region_order(prepared))


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
    hints, step, stroke_open = session.history[-1]
    return replace(session, hints=hints, step=step, stroke_open=stroke_open, history=session.history[:-1])


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


def colorize(colorizer: Colorizer, session: Session) -> Session:
    """The session with ``result`` painted from its hints and its reference. A model that
    requires guidance the session lacks (``guidance.required``: a reference not uploaded
    yet) gives ``result=None``; guidance the model does not take raises
    :class:`~tinct.guidance.GuidanceError` (a ValueError)."""
    request = Request.build(session.hints, reference=session.reference)
    if any(kind not in request.kinds for kind in colorizer.guidance.required):
        return replace(session, result=None)
    return replace(session, result=colorizer.colorize(session.prepared, request=request))


def export_files(session: Session, folder: str | os.PathLike, *, stem: str = "colorized") -> tuple[Path, Path, Path]:
    """Write the latest result as ``STEM.png`` and ``STEM.ora`` and the hints as
    ``STEM_hints.json`` into ``folder/<session key>/``; returns the three paths."""
    if session.result is None:
        raise ValueError("nothing to download yet: colorize the sketch first")
    target = Path(folder) / session.key
    target.mkdir(parents=True, exist_ok=True)
    png = session.result.save(target / f"{stem}.png")
    ora = session.result.save(target / f"{stem}.ora")
    hints = save_hints(session.hints, target / f"{stem}_hints.json")
    return png, ora, hints
