"""What the app's parts share: the components every mode uses (:class:`Widgets`), a mode's tab
as the rest of the app sees it (:class:`Mode`, :class:`Panel`) and :class:`App`, which turns a
session into what every component shows, so that every handler returns ``{component: value}``.

Imported by :func:`tinct.app.build_app` only, after Gradio was found.
"""

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from tinct.app.pictures import result_picture
from tinct.app.session import Session, colorize, undo
from tinct.color import normalize_color
from tinct.colorizer import Colorizer
from tinct.methods.base import Guidance

#: the keyword arguments of every event that runs the model: one at a time
MODEL_EVENT = {"concurrency_id": "model", "concurrency_limit": 1}


@dataclass(frozen=True)
class Colours:
    """The colour controls: picker, hex entry and the palette (kept in ``palette_state``) with its
    radio list, swatches, buttons and the saved palette's file."""

    picker: gr.ColorPicker
    hex: gr.Textbox
    palette_state: gr.State
    palette: gr.Radio
    swatches: gr.HTML
    add: gr.Button
    save: gr.Button
    load: gr.UploadButton
    file: gr.File


@dataclass(frozen=True)
class Widgets:
    """The components every mode shares: the session (``state``), the status line, the sketch,
    the colour controls, the result and its downloads (PNG, ORA, hint file)."""

    state: gr.State
    status: gr.Markdown
    sketch: gr.Image
    colours: Colours
    result: gr.Image
    export: gr.Button
    downloads: tuple[gr.File, gr.File, gr.File]


@dataclass(frozen=True)
class Panel:
    """A mode's tab as the rest of the app sees it.

    outputs: the components of the tab that every change of the session redraws; show: their
    values for a session (None: no sketch yet); wire: connects the tab's events, once every
    tab exists. given: a component holding guidance the user may give before a sketch (the
    reference picture), None for none; take: puts its value into a session (a new sketch's
    session takes it over).
    """

    outputs: list
    show: Callable[[Session | None], dict]
    wire: Callable[["App"], None]
    given: gr.components.Component | None = None
    take: Callable[[Session, object], Session] | None = None


@dataclass(frozen=True)
class Mode:
    """One guidance mode of the app: the kind of guidance it serves (a key of
    :data:`tinct.methods.base.GUIDANCE_KINDS`), its tab's title and id (also its ``elem_id``),
    ``build``, which fills the tab (called inside it) and returns its :class:`Panel`, and
    ``opens_first``: the app opens on this tab whenever the model takes its guidance (else on
    the first tab)."""

    kind: str
    label: str
    tab_id: str
    build: Callable[[], Panel]
    opens_first: bool = False

    def available(self, guidance: Guidance) -> bool:
        """Whether the model takes this mode's guidance (only then does the app show its tab)."""
        return guidance.accepts(self.kind)


def fail(message: str) -> gr.Error:
    """An error the user sees as a message (no traceback on the console: it is not a bug)."""
    return gr.Error(message, print_exception=False)


def need(session: Session | None) -> Session:
    if session is None:
        raise fail("Upload a sketch first.")
    return session


def color_of(text) -> str:
    """The colour in the hex entry as ``#rrggbb``, or an error message."""
    try:
        return normalize_color(text)
    except ValueError as error:
        raise fail(str(error)) from None


def model_line(colorizer: Colorizer) -> str:
    """The status line before a sketch: the model and what it takes."""
    return (f"Model: **{colorizer.method}** ({colorizer.size} px network); "
            f"it takes {colorizer.guidance.describe()}.")


@dataclass
class App:
    """The app being built: the model, the shared widgets and the panels of its modes.
    output_dir: where downloads go (a new temporary folder on the first download when None)."""

    colorizer: Colorizer
    widgets: Widgets
    panels: list[Panel]
    output_dir: Path | None = None

    @property
    def outputs(self) -> list:
        """Every component a change of the session redraws."""
        widgets = self.widgets
        shared = [widgets.state, widgets.result, widgets.status, *widgets.downloads]
        return shared + [component for panel in self.panels for component in panel.outputs]

    def outputs_folder(self) -> Path:
        """Where downloads go (created on the first download when none was given)."""
        if self.output_dir is None:
            self.output_dir = Path(tempfile.mkdtemp(prefix="tinct-app-"))
        return self.output_dir

    def status_line(self, session: Session | None) -> str:
        if session is None:
            return model_line(self.colorizer)
        line = f"{session.width} x {session.height} px sketch, {int(session.prepared.regions.max())} flat regions."
        if session.result is None and "reference" in self.colorizer.guidance.required:
            line += " Upload a reference picture."
        return line

    def show(self, session: Session | None, message: str = "") -> dict:
        """What every component of :attr:`outputs` shows for ``session``. A change of the hints
        makes the downloads stale, so they are cleared."""
        widgets = self.widgets
        shown = {widgets.state: session, widgets.status: message or self.status_line(session),
                 widgets.result: None if session is None else result_picture(session)}
        shown.update({file: None for file in widgets.downloads})
        for panel in self.panels:
            shown.update(panel.show(session))
        return shown

    def update(self, session: Session | None, change: Callable[[Session], Session]) -> dict:
        """Apply ``change`` (a plain function of :mod:`tinct.app.session`) and colorize;
        ValueErrors become a message."""
        session = need(session)
        try:
            return self.show(colorize(self.colorizer, change(session)))
        except ValueError as error:
            raise fail(str(error)) from None

    def on_undo(self, session: Session | None) -> dict:
        session = need(session)
        if not session.history:
            return self.show(session, "Nothing to undo.")
        return self.update(session, undo)
