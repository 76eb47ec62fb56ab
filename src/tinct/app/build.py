"""The Gradio Blocks of the app, built by concern: the picture (the result with the open tab's
marks; click on it), the controls beside it (the sketch, the tabs of the modes the model takes,
the colours, the downloads), then the events of each part.

Layout: one row that wraps: the picture's column (at least 360 px) and the controls' column (at
least 300 px) stand side by side from about 780 px of window width (an 800 px wide window keeps
both in view), one above the other below that.

Imported by :func:`tinct.app.build_app` only, after Gradio was found.
"""

import uuid
from dataclasses import replace
from pathlib import Path

import gradio as gr

from tinct.app.modes import MODES, available_modes, opening_mode
from tinct.app.palette import load_palette, palette_add, palette_remove, save_palette
from tinct.app.picker import HIDDEN, build_picker, wire_picker
from tinct.app.session import Session, View, colorize, export_file, start_session
from tinct.app.ui import (
    EVERY_CLICK,
    MODEL_EVENT,
    UPLOAD_EVENT,
    App,
    Colours,
    Mode,
    Panel,
    Widgets,
    guarded,
    model_line,
    need,
)
from tinct.color import normalize_color
from tinct.colorizer import Colorizer

HELP = """**tinct** colorizes line art. Upload a sketch, then guide the model in the tabs it offers: give colours
to the regions the model asks about (*Guided regions*), click points and strokes on the picture (*Points &
strokes*), give a colour picture (*Reference*), tick colour tags (*Colour tags*), pick a style (*Styles*) or
scribble over edges where colour leaked (*Scribbles*). The open tab's marks are drawn on the picture; *Show the
sketch* shows the lines alone. The result keeps your lines pixel for pixel; download it with one click
as PNG, as layered Photoshop (.psd) or OpenRaster (.ora) file (lines, flat colours, result) or the hints as a hint
file for `tinct colorize --hints`. A click on a palette swatch paints with its colour."""


#: the page's own style: the style preview clicked last is not marked as picked (Gradio cannot unmark it
#: when another seed is typed; the seed box and the status line say which style is in use); the grid of
#: previews as tall as its rows (Gradio gives it a fixed 450 px, empty below two rows); the picture
#: fits the window's height
CSS = """
#style-gallery .thumbnail-item.selected:not(:hover) {
    --ring-color: transparent;
    border-color: var(--border-color-primary);
}
#style-gallery .grid-wrap.fixed-height { min-height: 0; height: auto; max-height: none; }
#result img { max-height: calc(100vh - 160px); object-fit: contain; }
#palette .wrap { gap: 6px; }
#palette .wrap label { width: 28px; height: 28px; min-width: 0; padding: 0; border-radius: 6px;
                       border: 1px solid #8888; box-shadow: none; cursor: pointer; transition: none; }
#palette .wrap label input { position: absolute; opacity: 0; pointer-events: none; }
#palette .wrap label span { display: none; }
#palette .wrap label.selected { outline: 3px solid var(--color-accent); outline-offset: 2px; }
#downloads, #palette-buttons { flex-wrap: wrap; gap: 6px; }
#downloads button, #palette-buttons button { min-width: 0; }
"""


#: the page's own script, run once it loads. While the picture's next version loads, the browser
#: forgets its size (``naturalWidth`` is 0) and Gradio cannot tell which pixel a click hit (it sends
#: none, and the click is lost); such a click is held and given again, where it was made, once the
#: picture has loaded, and every click after it waits its turn, so that the clicks land in order.
JS = """() => {
    // the palette's radio choices drawn as swatches of their colours (each input's value, #rrggbb)
    const paint = () => document.querySelectorAll("#palette label input[type=radio]").forEach(input => {
        const label = input.closest("label");
        if (/^#[0-9a-f]{6}$/i.test(input.value) && label.dataset.swatch !== input.value) {
            label.dataset.swatch = input.value;
            label.style.background = input.value;
            label.title = input.value;
        }
    });
    new MutationObserver(paint).observe(document.body, {childList: true, subtree: true});
    paint();
    let held = 0, queue = Promise.resolve();
    const loaded = async () => {
        for (;;) {
            const picture = document.querySelector("#result img");
            if (!picture || picture.naturalWidth > 0) return picture;
            await picture.decode().catch(() => new Promise(done => setTimeout(done, 50)));
        }
    };
    document.addEventListener("click", event => {
        const picture = event.target instanceof HTMLImageElement ? event.target.closest("#result img") : null;
        if (!picture || event.tinctAgain || (picture.naturalWidth > 0 && held === 0)) return;
        event.stopImmediatePropagation();
        event.preventDefault();
        held += 1;
        const {clientX, clientY, screenX, screenY} = event;
        queue = queue.then(loaded).then(current => {
            const again = new MouseEvent("click", {bubbles: true, cancelable: true, view: window,
                                                   clientX, clientY, screenX, screenY});
            again.tinctAgain = true;
            (current || picture).dispatchEvent(again);
        }).finally(() => { held -= 1; });
    }, true);
}"""


def build_blocks(colorizer: Colorizer, *, output_dir: Path | None, palette: list[str], max_pixels: int,
                 models: dict[str, Colorizer] | None = None, model: str = "") -> gr.Blocks:
    """The app's Blocks for ``colorizer``: a tab for each mode its guidance takes
    (:func:`tinct.app.modes.available_modes`), opening on :func:`~tinct.app.modes.opening_mode`'s;
    uploaded pictures of at most ``max_pixels``. Every handler is :func:`~tinct.app.ui.guarded`.

    models: the model picker's models by name, ``colorizer`` among them as ``model`` (None or
    empty: no picker). Then there is a tab for each mode any of them takes, and those the model in
    use does not take are hidden (:mod:`tinct.app.picker`)."""
    models = dict(models or {})
    if models and models.get(model) is not colorizer:
        raise ValueError(f"the app opens with model {model!r}, which must be one of the picker's: {', '.join(models)}")
    shown = available_modes(colorizer.guidance)
    modes = [mode for mode in MODES if any(mode.available(c.guidance) for c in models.values())] if models else shown
    opening = opening_mode(shown)
    with _blocks() as demo:
        state = gr.State(None)
        view = gr.State(View(mode="" if opening is None else opening.kind, model=model))
        status = gr.Markdown(model_line(colorizer), elem_id="status")
        with gr.Row(equal_height=False, elem_id="workspace"):
            with gr.Column(scale=3, min_width=360):
                picture = _picture()
                show_sketch = gr.Checkbox(False, label="Show the sketch (the marks stay)", elem_id="show-sketch")
            with gr.Column(scale=2, min_width=300):
                picker = build_picker(models, model) if models else None
                # its events get the uploaded file, not pixels (UPLOAD_EVENT): the app checks the size first
                sketch = gr.Image(label="Sketch", type="filepath", sources=["upload", "clipboard"], format="png",
                                  height=150, elem_id="sketch")
                panels, tab_bar, tabs = _mode_tabs(modes, shown, opening, colorizer, models)
                # only the tabs that paint with a colour use them (not tags, styles, scribbles, a reference)
                with gr.Column(visible=any(mode.colours for mode in shown), elem_id="colours") as colour_box:
                    colours = _colour_controls(palette)
                downloads, download = _download_buttons()
        gr.Markdown(HELP)
        widgets = Widgets(state=state, view=view, status=status, picture=picture, show_sketch=show_sketch,
                          sketch=sketch, colours=colours, downloads=downloads, download=download, tab_bar=tab_bar,
                          tabs=tabs, colour_box=colour_box, model=picker)
        app = App(colorizer=colorizer, widgets=widgets, panels=panels, output_dir=output_dir, max_pixels=max_pixels,
                  models=models)
        _wire_sketch(app)
        _wire_downloads(app)
        _wire_colours(app)
        for panel in panels.values():
            panel.wire(app)
        _wire_view(app, tabs)
        _wire_picture(app, modes)
        if picker is not None:
            wire_picker(app)
    return demo


def _blocks() -> gr.Blocks:
    return gr.Blocks(title="tinct", analytics_enabled=False, delete_cache=(3600, 3600))


def appearance() -> dict:
    """The page's theme, style sheet and script, which Gradio 6 takes at ``launch()``
    (:func:`tinct.app.launch_options` passes them on). System fonts: the default theme fetches
    web fonts, which an offline machine cannot (and an artist's sketch session need not tell
    anyone about)."""
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "Consolas", "monospace"])
    return {"theme": theme, "css": CSS, "js": JS}


def _picture() -> gr.Image:
    """The picture: no floating label over its corner (every tab says what a click on it does) and
    no download button (it would give the picture with its marks: the downloads are below)."""
    return gr.Image(label="Colorized", show_label=False, interactive=False, format="png", buttons=["fullscreen"],
                    elem_id="result")


#: the download buttons' titles, by kind (:data:`tinct.app.session.DOWNLOADS`)
DOWNLOAD_TITLES = {"png": "Download PNG", "psd": "Download PSD", "ora": "Download ORA",
                   "hints": "Download hints"}

#: the page's script after a download button's file is written: the browser saves it (as a link
#: to it would when clicked)
SAVE_FILE = """(file) => {
    if (file && file.url) {
        const link = document.createElement("a");
        link.href = file.url;
        link.download = file.orig_name || "";
        document.body.appendChild(link);
        link.click();
        link.remove();
    }
}"""


def _download_buttons() -> tuple[dict[str, gr.Button], gr.File]:
    """One row of download buttons (one click each writes its file, which the browser saves) and
    the hidden file they write into."""
    with gr.Row(elem_id="downloads"):
        buttons = {kind: gr.Button(title, size="sm", elem_id=f"download-{kind}")
                   for kind, title in DOWNLOAD_TITLES.items()}
    return buttons, gr.File(visible=False, interactive=False, elem_id="download-file")


def _colour_controls(palette: list[str]) -> Colours:
    """The colour picker, the hex entry and the palette (one row of swatches, the current colour's
    marked), starting with ``palette``'s first colour."""
    first = palette[0]
    picker = gr.ColorPicker(value=first, label="Colour", elem_id="color-picker")
    hex_box = gr.Textbox(value=first, label="Hex", max_lines=1, elem_id="hex",
                         info="#rrggbb or #rgb; press Enter to set the picker")
    palette_state = gr.State(palette)
    radio = gr.Radio(choices=palette, value=first, label="Palette (click a colour to paint with it)",
                     elem_id="palette")
    with gr.Row(elem_id="palette-buttons"):
        add = gr.Button("Add colour", size="sm", elem_id="palette-add")
        remove = gr.Button("Remove colour", size="sm", elem_id="palette-remove")
        save = gr.Button("Save palette", size="sm", elem_id="palette-save")
        load = gr.UploadButton("Load palette", file_types=[".json"], size="sm", elem_id="palette-load")
    file = gr.File(label="Palette file", interactive=False, visible=False, elem_id="palette-file")
    return Colours(picker=picker, hex=hex_box, palette_state=palette_state, palette=radio, add=add, remove=remove,
                   save=save, load=load, file=file)


def _mode_tabs(modes: list[Mode], shown: list[Mode], opening: Mode | None, colorizer: Colorizer,
               models: dict[str, Colorizer]) -> tuple[dict[str, Panel], gr.Tabs, dict]:
    """One tab per mode, those of ``shown`` visible, opening on ``opening``; their panels, the tab
    bar and the tabs, by kind of guidance. A tab is built for ``colorizer``'s guidance, or, when it
    does not take the tab's (a hidden tab of the model picker's), for that of the first model that
    does (:attr:`Panel.adapt` fits it to another model's)."""
    panels, tabs = {}, {}
    with gr.Tabs(selected=None if opening is None else opening.tab_id, elem_id="modes") as tab_bar:
        for mode in modes:
            visible = mode in shown
            guidance = colorizer.guidance if visible else next(
                c.guidance for c in models.values() if mode.available(c.guidance))
            with gr.Tab(mode.label, id=mode.tab_id, elem_id=mode.tab_id, visible=True if visible else HIDDEN) as tab:
                panels[mode.kind] = mode.build(guidance)
            tabs[mode.kind] = tab
    return panels, tab_bar, tabs


def _wire_sketch(app: App) -> None:
    """A new sketch (upload, paste, clear) starts a new session, taking over the guidance given
    in the tabs before it (the reference picture, the ticked tags, the style seed) and the view
    (the open tab), and clearing what showed the sketch before (:attr:`Panel.cleared`). A sketch
    the app cannot take (too large, truncated, not an image) is a message, and the session before
    it stays."""
    @guarded
    def on_sketch(upload, view, *given):
        if upload is None:
            return app.show(None, view=view) | app.cleared
        # the session holds the decoded sketch (Prepared.original): no other full-size copy is kept
        colorizer = app.colorizer_for(view)
        session = app.take_given(start_session(colorizer, app.picture(upload), view), given)
        return app.show(colorize(colorizer, session)) | app.cleared

    widgets = app.widgets
    widgets.sketch.change(on_sketch, [widgets.sketch, widgets.view, *app.given], app.outputs,
                          **MODEL_EVENT, **UPLOAD_EVENT)


def _wire_view(app: App, tabs: dict) -> None:
    """Opening a tab draws its marks on the picture (and its clicks go there); "show the sketch"
    shows the lines alone under them. Both wait in the model's queue behind the clicks before them."""
    widgets = app.widgets
    changed = [widgets.state, widgets.view, widgets.picture]

    def opened(kind: str):
        @guarded
        def on_tab(session, view):
            return app.show_view(session, replace(view, mode=kind))

        return on_tab

    for kind, tab in tabs.items():
        tab.select(opened(kind), [widgets.state, widgets.view], changed, **EVERY_CLICK)

    @guarded
    def on_show_sketch(session, view, ticked):
        return app.show_view(session, replace(view, sketch=bool(ticked)))

    widgets.show_sketch.input(on_show_sketch, [widgets.state, widgets.view, widgets.show_sketch], changed,
                              **EVERY_CLICK)


def _wire_picture(app: App, modes: list[Mode]) -> None:
    """A click on the picture is the open tab's (:meth:`App.take_clicks`: a point, a stroke's
    vertex, a scribble's point); every click counts, in order (:data:`EVERY_CLICK`). ``modes``:
    the app's modes, in tab order."""
    if not app.clicks:
        return
    inputs = []  # what any mode's click reads (the colour, the brush, ...), each once
    for clicks in app.clicks.values():
        inputs += [component for component in clicks.inputs if all(component is not seen for seen in inputs)]

    def elsewhere(session: Session) -> str:
        guidance = app.colorizer_for(session).guidance
        takers = [mode.label for mode in modes if mode.kind in app.clicks and mode.available(guidance)]
        if not takers:
            return "A click on the picture does nothing with this model."
        return (f"A click on the picture places hints in {' and '.join(takers)}: "
                f"open {'it' if len(takers) == 1 else 'one of them'}.")

    @guarded
    def on_click(event: gr.SelectData, session, *values):
        session = need(session)
        clicks = app.clicks.get(session.view.mode)
        if clicks is None:
            return {app.widgets.status: elsewhere(session)}
        x, y = event.index[0], event.index[1]
        if x is None or y is None:  # the browser did not know the picture's size (JS holds such clicks)
            return {app.widgets.status: "That click came while the picture was changing: click again."}
        given = [values[next(i for i, c in enumerate(inputs) if c is component)] for component in clicks.inputs]
        return app.update(session, lambda s: clicks.apply(s, x, y, *given))

    app.widgets.picture.select(on_click, [app.widgets.state, *inputs], app.outputs, **EVERY_CLICK)


def _wire_downloads(app: App) -> None:
    """A download button writes its file on request only (not at every update), in the model's
    queue: after the clicks before it, whose hints it holds; then the page saves it (:data:`SAVE_FILE`)."""
    widgets = app.widgets

    def download(kind: str):
        @guarded
        def on_download(session):
            return {widgets.download: str(export_file(need(session), app.outputs_folder(), kind))}

        return on_download

    for kind, button in widgets.downloads.items():
        button.click(download(kind), [widgets.state], [widgets.download], **EVERY_CLICK).success(
            None, [widgets.download], None, js=SAVE_FILE)


def _wire_colours(app: App) -> None:
    """The picker, the hex entry and the palette set one another: a swatch clicked sets the picker
    and the hex entry, a colour picked or typed marks its swatch (none when the palette lacks it);
    the palette is saved to and loaded from a JSON file."""
    colours = app.widgets.colours
    picked = [colours.picker, colours.hex, colours.palette]
    palette_parts = [colours.palette_state, colours.palette]

    def marked(palette, color):
        return color if color in palette else None

    @guarded
    def on_picker(value, palette):
        try:
            color = normalize_color(value)
        except ValueError:
            return gr.skip()
        return {colours.hex: color, colours.palette: marked(palette, color)}

    @guarded
    def on_hex(text, palette):
        try:
            color = normalize_color(text)
        except ValueError as error:
            gr.Warning(str(error))
            return gr.skip()
        return {colours.picker: color, colours.hex: color, colours.palette: marked(palette, color)}

    @guarded
    def on_palette_pick(color):
        if not color:
            return gr.skip()
        return {colours.picker: color, colours.hex: color}

    def show_palette(palette, text):
        try:
            color = normalize_color(text)
        except ValueError:
            color = None
        return {colours.palette_state: palette,
                colours.palette: gr.update(choices=palette, value=marked(palette, color))}

    @guarded
    def on_palette_add(palette, text):
        return show_palette(palette_add(palette, text), text)

    @guarded
    def on_palette_remove(palette, text):
        return show_palette(palette_remove(palette, text), text)

    @guarded
    def on_palette_save(palette):
        path = save_palette(palette, app.outputs_folder() / f"palette-{uuid.uuid4().hex}" / "palette.json")
        return {colours.file: gr.update(value=str(path), visible=True)}

    @guarded
    def on_palette_load(file, text):
        return show_palette(load_palette(file if isinstance(file, str) else file.name), text)

    colours.picker.input(on_picker, [colours.picker, colours.palette_state], [colours.hex, colours.palette])
    colours.hex.submit(on_hex, [colours.hex, colours.palette_state], picked)
    colours.hex.blur(on_hex, [colours.hex, colours.palette_state], picked)
    colours.palette.input(on_palette_pick, [colours.palette], [colours.picker, colours.hex])
    colours.add.click(on_palette_add, [colours.palette_state, colours.hex], palette_parts)
    colours.remove.click(on_palette_remove, [colours.palette_state, colours.hex], palette_parts)
    colours.save.click(on_palette_save, [colours.palette_state], [colours.file])
    colours.load.upload(on_palette_load, [colours.load, colours.hex], palette_parts)
