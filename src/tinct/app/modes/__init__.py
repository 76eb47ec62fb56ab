"""The app's guidance modes, one module per kind of guidance (:class:`tinct.app.ui.Mode`):
guided regions, points & strokes, a reference picture, colour tags, styles, scribbles. The app
builds a mode's tab only when the loaded model's :class:`~tinct.methods.base.Guidance` accepts
that kind; a new kind of guidance is a new module here and one entry in :data:`MODES`."""

from tinct.app.modes import points, reference, regions, scribbles, styles, tags
from tinct.app.ui import Mode
from tinct.methods.base import Guidance

__all__ = ["MODES", "available_modes", "opening_mode"]

#: every mode, in the order of their tabs
MODES: tuple[Mode, ...] = (regions.MODE, points.MODE, reference.MODE, tags.MODE, styles.MODE, scribbles.MODE)


def available_modes(guidance: Guidance) -> list[Mode]:
    """The modes whose guidance the model takes, in tab order."""
    return [mode for mode in MODES if mode.available(guidance)]


def opening_mode(modes: list[Mode]) -> Mode | None:
    """The mode whose tab the app opens on: the first that ``opens_first`` (the reference
    picture), else the first in tab order (the guided regions when the model ranks regions;
    the tags of a tags-only model, the styles of a style-only one); None without modes."""
    return next((mode for mode in modes if mode.opens_first), modes[0] if modes else None)
