"""What the app's parts share: the components every mode uses (:class:`Widgets`), a mode's tab
as the rest of the app sees it (:class:`Mode`, :class:`Panel`), :class:`App`, which turns a
session into what every component shows, so that every handler returns ``{component: value}``,
and :func:`guarded`, which every handler is wrapped in: the browser gets a short message, the
server's log (``logging.getLogger("tinct.app")``) the traceback.

The app has one picture (``elem_id="result"``): the result (or the sketch) with the open tab's
marks drawn over it at full size (:attr:`Panel.marks`), and clicks on it are the open tab's
(:meth:`App.take_clicks`). :meth:`App.picture_file` writes it as a PNG itself, fast
(:func:`~tinct.app.pictures.png_bytes`), into Gradio's own folder, so that Gradio neither
encodes nor copies it.

Imported by :func:`tinct.app.build_app` only, after Gradio was found.
"""

import functools
import html
import itertools
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np
import torch

from tinct.app.pictures import base_picture, png_bytes
from tinct.app.session import Session, View, colorize, guidance_status, undo
from tinct.app.uploads import APP_MAX_PIXELS, load_upload, short_message
from tinct.color import normalize_color
from tinct.colorizer import Colorizer
from tinct.methods.base import Guidance

#: the keyword arguments of every event that runs the model or redraws the picture: one at a time,
#: in the order given; the picture stays until the next one replaces it (a small timer, no
#: "processing" cover)
MODEL_EVENT = {"concurrency_id": "model", "concurrency_limit": 1, "show_progress": "minimal"}
#: the keyword arguments of events each of which counts (a click on the picture, a button): one
#: given while the one before is painted is queued behind it, never dropped (Gradio's default,
#: trigger_mode="once", drops it)
EVERY_CLICK = {**MODEL_EVENT, "trigger_mode": "multiple"}
#: the keyword arguments of every event that takes an uploaded picture: Gradio hands over the file
#: (its data as a dict), decoding nothing, so that the app checks its size first (tinct.app.uploads)
UPLOAD_EVENT = {"preprocess": False}

#: what the browser shows for an error that is not the user's (the traceback goes to the log)
UNEXPECTED = "Something went wrong on the server (its log has the details). Try again, or reload the page."
OUT_OF_MEMORY = "The server ran out of memory for this picture: try a smaller one."
#: how many of a session's pictures stay on the server: the browser may still be fetching the one
#: before while the next is written
PICTURES_KEPT = 4

log = logging.getLogger("tinct.app")


@dataclass(frozen=True)
class Colours:
    """The colour controls: picker, hex entry and the palette (kept in ``palette_state``): one row
    of swatches (a radio list the page's style and script draw as coloured squares; the current
    colour's is marked), its buttons and the saved palette's file."""

    picker: gr.ColorPicker
    hex: gr.Textbox
    palette_state: gr.State
    palette: gr.Radio
    add: gr.Button
    remove: gr.Button
    save: gr.Button
    load: gr.UploadButton
    file: gr.File


@dataclass(frozen=True)
class Widgets:
    """The components every mode shares: the session (``state``), the view before a sketch
    (``view``: the open tab and the "show the sketch" box, :class:`~tinct.app.session.View`), the
    status line, the picture (the result or the sketch, with the open tab's marks: click on it),
    its "show the sketch" box, the sketch upload, the colour controls and the download buttons
    (by kind: PNG, PSD, ORA, hint file, :data:`~tinct.app.session.DOWNLOADS`), each of which writes
    its file into ``download`` (hidden) for the page to save; the tabs (``tab_bar``, and each tab
    by kind of guidance), the box of the colour controls and the model picker (None in an app of
    one model), which a change of model shows and hides."""

    state: gr.State
    view: gr.State
    status: gr.Markdown
    picture: gr.Image
    show_sketch: gr.Checkbox
    sketch: gr.Image
    colours: Colours
    downloads: dict[str, gr.Button]
    download: gr.File
    tab_bar: gr.Tabs | None = None
    tabs: dict = field(default_factory=dict)
    colour_box: gr.Column | None = None
    model: gr.Dropdown | None = None


@dataclass(frozen=True)
class Clicks:
    """What a click on the picture does in a mode: ``apply(session, x, y, *values)`` returns the
    changed session, ``x, y`` the clicked pixel (column, row), ``values`` those of ``inputs`` (the
    colour, the brush, ...) when the click was made."""

    inputs: tuple
    apply: Callable[..., Session]


@dataclass(frozen=True)
class Panel:
    """A mode's tab as the rest of the app sees it.

    outputs: the components of the tab that every change of the session redraws; show: their
    values for a session (None: no sketch yet); wire: connects the tab's events, once every
    tab exists. given: a component holding guidance the user may give before a sketch (the
    reference picture), None for none; take: puts its value into a session, for the app (a
    new sketch's session takes it over); cleared: ``{component: value}`` of outputs that belong
    to one sketch and that a new sketch clears (the style previews), beyond what ``show`` sets;
    marks: ``marks(session, picture)`` draws the tab's marks (its hints, the region asked about)
    over the picture while the tab is open, a new array (None: it draws none); adapt:
    ``adapt(guidance, value of given)`` -> ``{component: update}``: the tab made fit for another
    model's guidance (the tags tab offers its vocabulary), None when nothing depends on the model.
    """

    outputs: list
    show: Callable[[Session | None], dict]
    wire: Callable[["App"], None]
    given: gr.components.Component | None = None
    take: Callable[["App", Session, object], Session] | None = None
    cleared: dict = field(default_factory=dict)
    marks: Callable[[Session, np.ndarray], np.ndarray] | None = None
    adapt: Callable[[Guidance, object], dict] | None = None


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
    """The app being built: the model it opens with, the shared widgets and the panels of its modes
    by kind of guidance (:attr:`Mode.kind`), in tab order. output_dir: where downloads go (a new
    temporary folder on the first download when None); max_pixels: the largest picture (width x
    height) the app takes; clicks: what a click on the picture does, by mode (:meth:`take_clicks`);
    models: the model picker's models by name (empty: the app has one model, ``colorizer``); each
    user's session names the one it works with (:meth:`colorizer_for`)."""

    colorizer: Colorizer
    widgets: Widgets
    panels: dict[str, Panel]
    output_dir: Path | None = None
    max_pixels: int = APP_MAX_PIXELS
    clicks: dict[str, Clicks] = field(default_factory=dict)
    models: dict[str, Colorizer] = field(default_factory=dict)
    _numbers: itertools.count = field(default_factory=itertools.count, repr=False)

    def colorizer_for(self, where: Session | View | None) -> Colorizer:
        """The model a session (or, before a sketch, a view) works with: ``models[view.model]``
        in an app with a model picker, else the app's one model."""
        view = where.view if isinstance(where, Session) else where
        if view is None or not view.model:
            return self.colorizer
        if view.model not in self.models:
            raise ValueError(f"no model {view.model!r} in this app; it has {', '.join(self.models)}")
        return self.models[view.model]

    @property
    def outputs(self) -> list:
        """Every component a change of the session redraws."""
        widgets = self.widgets
        shared = [widgets.state, widgets.picture, widgets.status]
        return shared + [component for panel in self.panels.values() for component in panel.outputs]

    @property
    def takers(self) -> list[tuple[str, "Panel"]]:
        """The tabs that hold guidance given before a sketch (:attr:`Panel.given`: the reference
        picture, the ticked tags, the style seed), by kind, in tab order."""
        return [(kind, panel) for kind, panel in self.panels.items() if panel.given is not None]

    @property
    def given(self) -> list:
        """The components of :attr:`takers`' guidance, in their order (the inputs of :meth:`take_given`)."""
        return [panel.given for _, panel in self.takers]

    @property
    def cleared(self) -> dict:
        """What a new sketch (or model) clears: each tab's :attr:`Panel.cleared`."""
        return {component: value for panel in self.panels.values() for component, value in panel.cleared.items()}

    def take_given(self, session: Session, values, kinds=None) -> Session:
        """``session`` with the guidance in the tabs (``values``, those of :attr:`given`) that its
        model takes (only of ``kinds`` when given): a tab its model lacks (hidden, in an app with a
        model picker) keeps its guidance for a model that takes it."""
        guidance = self.colorizer_for(session).guidance
        for (kind, panel), value in zip(self.takers, values, strict=True):
            if guidance.accepts(kind) and (kinds is None or kind in kinds):
                session = panel.take(self, session, value)
        return session

    def take_clicks(self, kind: str, apply: Callable[..., Session], inputs=()) -> None:
        """While mode ``kind``'s tab is open, a click on the picture is ``apply(session, x, y,
        *values of inputs)`` (see :class:`Clicks`)."""
        self.clicks[kind] = Clicks(inputs=tuple(inputs), apply=apply)

    def picture(self, upload) -> torch.Tensor | None:
        """An uploaded picture (what an :data:`UPLOAD_EVENT` gets) as ``(3, H, W)`` in [0, 1],
        its size checked before decoding (:func:`tinct.app.uploads.load_upload`)."""
        return load_upload(upload, max_pixels=self.max_pixels)

    def outputs_folder(self) -> Path:
        """Where downloads go (created on the first download when none was given)."""
        if self.output_dir is None:
            self.output_dir = Path(tempfile.mkdtemp(prefix="tinct-app-"))
        return self.output_dir

    def status_line(self, session: Session | None, view: View | None = None) -> str:
        """The status line for ``session``; before a sketch, the model of ``view`` and what it takes."""
        if session is None:
            return model_line(self.colorizer_for(view))
        guidance = self.colorizer_for(session).guidance
        line = f"{session.width} x {session.height} px sketch, {int(session.prepared.regions.max())} flat regions."
        given = guidance_status(session, guidance)
        if given:
            line += f" {given}"
        if session.result is None and "reference" in guidance.required:
            line += " Upload a reference picture."
        return line

    def marked_picture(self, session: Session) -> np.ndarray:
        """What the picture shows for ``session``: the result (the sketch before one, or when the
        view asks for it) with the marks of the open tab (``session.view.mode``), uint8 ``(H, W, 3)``
        at full size (read-only when no marks are drawn)."""
        picture = base_picture(session)
        panel = self.panels.get(session.view.mode)
        return picture if panel is None or panel.marks is None else panel.marks(session, picture)

    def picture_file(self, session: Session) -> str:
        """:meth:`marked_picture` written as a PNG (:func:`~tinct.app.pictures.png_bytes`: fast and
        lossless, so the lines stay exact) into Gradio's own folder, which serves it as it is (no
        copy, no second encoding); its path. The session's older pictures there are removed but
        the last :data:`PICTURES_KEPT`."""
        folder = Path(os.path.abspath(self.widgets.picture.GRADIO_CACHE)) / "tinct-pictures" / session.key
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{next(self._numbers):09d}.png"  # a new name: the browser caches none
        path.write_bytes(png_bytes(self.marked_picture(session)))
        for old in sorted(folder.glob("*.png"))[:-PICTURES_KEPT]:
            old.unlink(missing_ok=True)
            self.widgets.picture.temp_files.discard(str(old))
        return str(path)

    def show(self, session: Session | None, message: str = "", view: View | None = None) -> dict:
        """What every component of :attr:`outputs` shows for ``session`` (before a sketch: for
        ``view``'s model)."""
        widgets = self.widgets
        shown = {widgets.state: session, widgets.status: message or self.status_line(session, view),
                 widgets.picture: None if session is None else self.picture_file(session)}
        # the tabs of the session's model only: a hidden tab (another model's, in an app with a
        # model picker) keeps what was given in it for a model that takes it
        guidance = None if session is None else self.colorizer_for(session).guidance
        for kind, panel in self.panels.items():
            if guidance is None or guidance.accepts(kind):
                shown.update(panel.show(session))
        return shown

    def show_view(self, session: Session | None, view: View) -> dict:
        """The picture redrawn for a new ``view`` (another tab, the sketch shown or not); it is
        kept for the next sketch too."""
        if session is None:
            return {self.widgets.view: view}
        session = session.with_view(view)
        return {self.widgets.state: session, self.widgets.view: view,
                self.widgets.picture: self.picture_file(session)}

    def update(self, session: Session | None, change: Callable[[Session], Session]) -> dict:
        """Apply ``change`` (a plain function of :mod:`tinct.app.session`) and colorize."""
        session = need(session)
        return self.show(colorize(self.colorizer_for(session), change(session)))

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
