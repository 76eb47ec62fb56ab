"""What the app's parts share: the components every mode uses (:class:`Widgets`), a mode's tab
as the rest of the app sees it (:class:`Mode`, :class:`Panel`), :class:`App`, which turns a
session into what every component shows, so that every handler returns ``{component: value}``,
and :func:`guarded`, which every handler is wrapped in: the browser gets a short message, the
server's log (``logging.getLogger("tinct.app")``) the traceback.

Imported by :func:`tinct.app.build_app` only, after Gradio was found.
"""

import functools
import html
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import torch

from tinct.app.pictures import result_picture
from tinct.app.session import Session, colorize, guidance_status, undo
from tinct.app.uploads import APP_MAX_PIXELS, load_upload, short_message
from tinct.color import normalize_color
from tinct.colorizer import Colorizer
from tinct.methods.base import Guidance

#: the keyword arguments of every event that runs the model: one at a time
MODEL_EVENT = {"concurrency_id": "model", "concurrency_limit": 1}
#: the keyword arguments of every event that takes an uploaded picture: Gradio hands over the file
#: (its data as a dict), decoding nothing, so that the app checks its size first (tinct.app.uploads)
UPLOAD_EVENT = {"preprocess": False}

#: what the browser shows for an error that is not the user's (the traceback goes to the log)
UNEXPECTED = "Something went wrong on the server (its log has the details). Try again, or reload the page."
OUT_OF_MEMORY = "The server ran out of memory for this picture: try a smaller one."

log = logging.getLogger("tinct.app")


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
    reference picture), None for none; take: puts its value into a session, for the app (a
    new sketch's session takes it over); cleared: ``{component: value}`` of outputs that belong
    to one sketch and that a new sketch clears (the style previews), beyond what ``show`` sets.
    """

    outputs: list
    show: Callable[[Session | None], dict]
    wire: Callable[["App"], None]
    given: gr.components.Component | None = None
    take: Callable[["App", Session, object], Session] | None = None
    cleared: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Mode:
    """One guidance mode of the app: the kind of guidance it serves (a key of
    :data:`tinct.methods.base.GUIDANCE_KINDS`), its tab's title and id (also its ``elem_id``),
    ``build``, which fills the tab (called inside it, with the model's :class:`Guidance`: the
    tags mode offers its vocabulary) and returns its :class:`Panel`, ``opens_first``: the app
    opens on this tab whenever the model takes its guidance (else on the first tab), and
    ``colours``: the tab paints with the colour controls (picker, hex entry, palette), which
    the app shows only when a tab does."""

    kind: str
    label: str
    tab_id: str
    build: Callable[[Guidance], Panel]
    opens_first: bool = False
    colours: bool = False

    def available(self, guidance: Guidance) -> bool:
        """Whether the model takes this mode's guidance (only then does the app show its tab)."""
        return guidance.accepts(self.kind)


def fail(message: str) -> gr.Error:
    """An error the user sees as a message (no traceback on the console: it is not a bug).
    Gradio shows it as HTML, so it is escaped (a file may be called ``<b>.png``)."""
    return gr.Error(html.escape(message, quote=False), print_exception=False)


def guarded(handler: Callable) -> Callable:
    """``handler`` as the app wires it: a :func:`fail` passes; tinct's own errors, ValueErrors
    (:class:`~tinct.image.ImageError`, :class:`~tinct.guidance.GuidanceError`, a bad colour)
    become their first line, without folders (:func:`~tinct.app.uploads.short_message`); any
    other exception becomes :data:`UNEXPECTED` in the browser and its traceback goes to the log."""

    @functools.wraps(handler)  # keeps the signature: Gradio reads it (``event: gr.SelectData``)
    def run(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except gr.Error:
            raise
        except ValueError as error:
            raise fail(short_message(error)) from None
        except (MemoryError, torch.OutOfMemoryError):
            log.exception("tinct app: out of memory in %s", handler.__qualname__)
            raise fail(OUT_OF_MEMORY) from None
        except Exception:
            log.exception("tinct app: %s failed", handler.__qualname__)
            raise fail(UNEXPECTED) from None

    run.guarded = True
    return run


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
    output_dir: where downloads go (a new temporary folder on the first download when None);
    max_pixels: the largest picture (width x height) the app takes."""

    colorizer: Colorizer
    widgets: Widgets
    panels: list[Panel]
    output_dir: Path | None = None
    max_pixels: int = APP_MAX_PIXELS

    @property
    def outputs(self) -> list:
        """Every component a change of the session redraws."""
        widgets = self.widgets
        shared = [widgets.state, widgets.result, widgets.status, *widgets.downloads]
        return shared + [component for panel in self.panels for component in panel.outputs]

    def picture(self, upload) -> torch.Tensor | None:
        """An uploaded picture (what an :data:`UPLOAD_EVENT` gets) as ``(3, H, W)`` in [0, 1],
        its size checked before decoding (:func:`tinct.app.uploads.load_upload`)."""
        return load_upload(upload, max_pixels=self.max_pixels)

    def outputs_folder(self) -> Path:
        """Where downloads go (created on the first download when none was given)."""
        if self.output_dir is None:
            self.output_dir = Path(tempfile.mkdtemp(prefix="tinct-app-"))
        return self.output_dir

    def status_line(self, session: Session | None) -> str:
        if session is None:
            return model_line(self.colorizer)
        line = f"{session.width} x {session.height} px sketch, {int(session.prepared.regions.max())} flat regions."
        given = guidance_status(session, self.colorizer.guidance)
        if given:
            line += f" {given}"
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
        """Apply ``change`` (a plain function of :mod:`tinct.app.session`) and colorize."""
        return self.show(colorize(self.colorizer, change(need(session))))

    def given_before_a_sketch(self, what: str) -> dict:
        """What a tab shows when guidance is given before any sketch: the next sketch takes it
        over (:attr:`Panel.take`)."""
        return {self.widgets.status: f"{what} taken: now upload a sketch."}

    @guarded
    def on_undo(self, session: Session | None) -> dict:
        session = need(session)
        if not session.history:
            return self.show(session, "Nothing to undo.")
        return self.update(session, undo)
