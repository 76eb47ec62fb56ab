"""Guided regions (models that rank regions, such as GuidingPainter): the app shows the next
region the model asks about, highlighted over the picture ("region k of N"); the user gives it
the current colour (apply) or leaves it (skip)."""

import gradio as gr

from tinct.app.pictures import highlight_region
from tinct.app.session import Session, apply_color, region_status, skip_region
from tinct.app.ui import EVERY_CLICK, App, Mode, Panel, color_of, guarded
from tinct.methods.base import Guidance


def marks(session: Session, picture):
    """The region asked about now, tinted and outlined in magenta over ``picture``."""
    return highlight_region(session, picture=picture)


def build(guidance: Guidance) -> Panel:
    """The tab: which region (highlighted on the picture while the tab is open), apply / skip / undo."""
    label = gr.Markdown("Upload a sketch.", elem_id="region-count")
    gr.Markdown("The region the model asks about is magenta on the picture: give it the current colour, or skip it.")
    with gr.Row():
        apply_button = gr.Button("Apply colour", variant="primary", elem_id="apply-color")
        skip_button = gr.Button("Skip region", elem_id="skip-region")
        undo_button = gr.Button("Undo", elem_id="undo")

    def show(session: Session | None) -> dict:
        return {label: "Upload a sketch." if session is None else region_status(session)}

    def wire(app: App) -> None:
        @guarded
        def on_apply(session, text):
            color = color_of(text)
            return app.update(session, lambda s: apply_color(s, color))

        @guarded
        def on_skip(session):
            return app.update(session, skip_region)

        state, hex_box = app.widgets.state, app.widgets.colours.hex
        apply_button.click(on_apply, [state, hex_box], app.outputs, **EVERY_CLICK)
        skip_button.click(on_skip, [state], app.outputs, **EVERY_CLICK)
        undo_button.click(app.on_undo, [state], app.outputs, **EVERY_CLICK)

    return Panel(outputs=[label], show=show, wire=wire, marks=marks)


MODE = Mode(kind="regions", label="Guided regions", tab_id="tab-guided", build=build, colours=True)
