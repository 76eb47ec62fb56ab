"""The Gradio Blocks of the app, built by concern: the shared columns (sketch and colours,
result and downloads), the tabs of the modes the model takes, then the events of each part.

Imported by :func:`tinct.app.build_app` only, after Gradio was found.
"""

import uuid
import warnings
from pathlib import Path

import gradio as gr

from tinct.app.modes import available_modes, opening_mode
from tinct.app.palette import load_palette, palette_add, palette_html, save_palette
from tinct.app.session import colorize, export_files, start_session
from tinct.app.ui import MODEL_EVENT, UPLOAD_EVENT, App, Colours, Mode, Panel, Widgets, guarded, model_line, need
from tinct.color import normalize_color
from tinct.colorizer import Colorizer
from tinct.methods.base import Guidance

HELP = """**tinct** colorizes line art. Upload a sketch, then guide the model in the tabs it offers: give colours
to the regions the model asks about (*Guided regions*), click points and strokes (*Points & strokes*), give
a colour picture (*Reference*), tick colour tags (*Colour tags*), pick a style (*Styles*) or scribble over edges
where colour leaked (*Scribbles*). The result keeps your lines pixel for pixel; download it as PNG, as layered
OpenRaster (.ora: lines, flat colours, result) or the hints as a hint file for `tinct colorize --hints`."""


#: the page's own style: the style preview clicked last is not marked as picked (Gradio cannot unmark it
#: when another seed is typed; the seed box and the status line say which style is in use)
CSS = """
#style-gallery .thumbnail-item.selected:not(:hover) {
    --ring-color: transparent;
    border-color: var(--border-color-primary);
}
"""


def build_blocks(colorizer: Colorizer, *, output_dir: Path | None, palette: list[str], max_pixels: int) -> gr.Blocks:
    """The app's Blocks for ``colorizer``: a tab for each mode its guidance takes
    (:func:`tinct.app.modes.available_modes`), opening on :func:`~tinct.app.modes.opening_mode`'s;
    uploaded pictures of at most ``max_pixels``. Every handler is :func:`~tinct.app.ui.guarded`."""
    modes = available_modes(colorizer.guidance)
    with _blocks() as demo:
        state = gr.State(None)
        gr.Markdown(HELP)
        status = gr.Markdown(model_line(colorizer), elem_id="status")
        with gr.Row():
            with gr.Column(scale=1, min_width=260):
                # its events get the uploaded file, not pixels (UPLOAD_EVENT): the app checks the size first
                sketch = gr.Image(label="Sketch", type="filepath", sources=["upload", "clipboard"], format="png",
                                  height=280, elem_id="sketch")
                # only the tabs that paint with a colour use them (not tags, styles, scribbles, a reference)
                with gr.Column(visible=any(mode.colours for mode in modes), elem_id="colours"):
                    colours = _colour_controls(palette)
            with gr.Column(scale=2):
                panels = _mode_tabs(modes, colorizer.guidance)
            with gr.Column(scale=2):
                result = gr.Image(label="Colorized", interactive=False, format="png", height=420, elem_id="result")
                export = gr.Button("Prepare downloads (PNG, ORA, hint file)", elem_id="export")
                downloads = (gr.File(label="PNG", interactive=False, elem_id="download-png"),
                             gr.File(label="OpenRaster (.ora)", interactive=False, elem_id="download-ora"),
                             gr.File(label="Hint file (.json)", interactive=False, elem_id="download-hints"))
        widgets = Widgets(state=state, status=status, sketch=sketch, colours=colours, result=result, export=export,
                          downloads=downloads)
        app = App(colorizer=colorizer, widgets=widgets, panels=panels, output_dir=output_dir, max_pixels=max_pixels)
        _wire_sketch(app)
        _wire_downloads(app)
        _wire_colours(app)
        for panel in panels:
            panel.wire(app)
    return demo


def _blocks() -> gr.Blocks:
    # system fonts: the default theme fetches web fonts, which an offline machine cannot (and
    # an artist's sketch session need not tell anyone about)
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "Consolas", "monospace"])
    with warnings.catch_warnings():  # Gradio 5 announces that Gradio 6 moves `theme` and `css` to launch()
        warnings.filterwarnings("ignore", message="The '(theme|css)' parameter", category=DeprecationWarning)
        return gr.Blocks(title="tinct", theme=theme, css=CSS, analytics_enabled=False, delete_cache=(3600, 3600))


def _colour_controls(palette: list[str]) -> Colours:
    """The colour picker, the hex entry and the palette, starting with ``palette``'s first colour."""
    first = palette[0]
    picker = gr.ColorPicker(value=first, label="Colour", elem_id="color-picker")
    hex_box = gr.Textbox(value=first, label="Hex", max_lines=1, elem_id="hex",
                         info="#rrggbb or #rgb; press Enter to set the picker")
    palette_state = gr.State(palette)
    radio = gr.Radio(choices=palette, label="Palette", elem_id="palette")
    swatches = gr.HTML(palette_html(palette), padding=False, elem_id="palette-swatches")
    with gr.Row():
        add = gr.Button("Add colour to palette", size="sm", elem_id="palette-add")
        save = gr.Button("Save palette", size="sm", elem_id="palette-save")
        load = gr.UploadButton("Load palette", file_types=[".json"], size="sm", elem_id="palette-load")
    file = gr.File(label="Palette file", interactive=False, visible=False, elem_id="palette-file")
    return Colours(picker=picker, hex=hex_box, palette_state=palette_state, palette=radio, swatches=swatches,
                   add=add, save=save, load=load, file=file)


def _mode_tabs(modes: list[Mode], guidance: Guidance) -> list[Panel]:
    """One tab per mode, opening on the mode the model needs first; their panels."""
    opening = opening_mode(modes)
    panels = []
    with gr.Tabs(selected=None if opening is None else opening.tab_id):
        for mode in modes:
            with gr.Tab(mode.label, id=mode.tab_id, elem_id=mode.tab_id):
                panels.append(mode.build(guidance))
    return panels


def _wire_sketch(app: App) -> None:
    """A new sketch (upload, paste, clear) starts a new session, taking over the guidance given
    in the tabs before it (the reference picture, the ticked tags, the style seed) and clearing
    what showed the sketch before (:attr:`Panel.cleared`). A sketch the app cannot take (too
    large, truncated, not an image) is a message, and the session before it stays."""
    takers = [panel for panel in app.panels if panel.given is not None]

    cleared = {component: value for panel in app.panels for component, value in panel.cleared.items()}

    @guarded
    def on_sketch(upload, *given):
        if upload is None:
            return app.show(None) | cleared
        # the session holds the decoded sketch (Prepared.original): no other full-size copy is kept
        session = start_session(app.colorizer, app.picture(upload))
        for panel, value in zip(takers, given, strict=True):
            session = panel.take(app, session, value)
        return app.show(colorize(app.colorizer, session)) | cleared

    sketch = app.widgets.sketch
    sketch.change(on_sketch, [sketch] + [panel.given for panel in takers], app.outputs, **MODEL_EVENT,
                  **UPLOAD_EVENT)


def _wire_downloads(app: App) -> None:
    downloads = app.widgets.downloads

    @guarded
    def on_export(session):
        paths = export_files(need(session), app.outputs_folder())
        return {file: str(path) for file, path in zip(downloads, paths, strict=True)}

    app.widgets.export.click(on_export, [app.widgets.state], list(downloads))


def _wire_colours(app: App) -> None:
    """The picker, the hex entry and the palette set one another; the palette is saved to and
    loaded from a JSON file."""
    colours = app.widgets.colours
    picked = [colours.picker, colours.hex]
    palette_parts = [colours.palette_state, colours.palette, colours.swatches]

    @guarded
    def on_picker(value):
        try:
            return {colours.hex: normalize_color(value)}
        except ValueError:
            return gr.skip()

    @guarded
    def on_hex(text):
        try:
            color = normalize_color(text)
        except ValueError as error:
            gr.Warning(str(error))
            return gr.skip()
        return {colours.picker: color, colours.hex: color}

    @guarded
    def on_palette_pick(color):
        if not color:
            return gr.skip()
        return {colours.picker: color, colours.hex: color}

    def show_palette(palette, selected=None):
        return {colours.palette_state: palette, colours.palette: gr.update(choices=palette, value=selected),
                colours.swatches: palette_html(palette)}

    @guarded
    def on_palette_add(palette, text):
        return show_palette(palette_add(palette, text), normalize_color(text))

    @guarded
    def on_palette_save(palette):
        path = save_palette(palette, app.outputs_folder() / f"palette-{uuid.uuid4().hex}" / "palette.json")
        return {colours.file: gr.update(value=str(path), visible=True)}

    @guarded
    def on_palette_load(file):
        return show_palette(load_palette(file if isinstance(file, str) else file.name))

    colours.picker.input(on_picker, [colours.picker], [colours.hex])
    colours.hex.submit(on_hex, [colours.hex], picked)
    colours.hex.blur(on_hex, [colours.hex], picked)
    colours.palette.input(on_palette_pick, [colours.palette], picked)
    colours.add.click(on_palette_add, [colours.palette_state, colours.hex], palette_parts)
    colours.save.click(on_palette_save, [colours.palette_state], [colours.file])
    colours.load.upload(on_palette_load, [colours.load], palette_parts)
