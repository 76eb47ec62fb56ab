"""Guided regions (models that rank regions, such as GuidingPainter): the app shows the next
region the model asks about, highlighted over the sketch ("region k of N"); the user gives it
the current colour (apply) or leaves it (skip)."""

import gradio as gr

from tinct.app.pictures import highlight_region
from tinct.app.session import Session, apply_color, region_status, skip_region
from tinct.app.ui import MODEL_EVENT, App, Mode, Panel, color_of, guarded
from tinct.methods.base import Guidance


def build(guidance: Guidance) -> Panel:
    """The tab: which region, the sketch with that region highlighted, apply / skip / undo."""
    label = gr.Markdown("Upload a sketch.", elem_id="region-count")
    view = gr.Image(label="The region the model asks about (magenta)", interactive=False, format="png",
                    height=420, elem_id="region-view")
    with gr.Row():
        apply_button = gr.Button("Apply colour", variant="primary", elem_id="apply-color")
        skip_button = gr.Button("Skip region", elem_id="skip-region")
        undo_button = gr.Button("Undo", elem_id="undo")

    def show(session: Session | None) -> dict:
        if session is None:
            return {label: "Upload a sketch.", view: None}
        return {label: region_status(session), view: highlight_region(session)}

    def wire(app: App) -> None:
        @guarded
        def on_apply(session, text):
            color = color_of(text)
            return app.update(session, lambda s: apply_color(s, color))

        @guarded
        def on_skip(session):
            return app.update(session, skip_region)

        state, hex_box = app.widgets.state, app.widgets.colours.hex
        apply_button.click(on_apply, [state, hex_box], app.outputs, **MODEL_EVENT)
        skip_button.click(on_skip, [state], app.outputs, **MODEL_EVENT)
        undo_button.click(app.on_undo, [state], app.outputs, **MODEL_EVENT)

    return Panel(outputs=[label, view], show=show, wire=wire)


MODE = Mode(kind="regions", label="Guided regions", tab_id="tab-guided", build=build, colours=True)
