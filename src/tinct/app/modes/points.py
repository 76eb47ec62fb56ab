"""Points & strokes (models that take point hints): a click on the sketch places a point of the
current colour or, in stroke mode, adds a vertex to the stroke being drawn until it is ended."""

# no ``from __future__ import annotations`` here: Gradio reads the click handler's annotation
# (``event: gr.SelectData``) with typing.get_type_hints, which needs real objects.

import gradio as gr

from tinct.app.pictures import draw_hints
from tinct.app.session import Session, add_point, add_stroke_point, clear_hints, end_stroke
from tinct.app.ui import MODEL_EVENT, App, Mode, Panel, color_of, guarded, need
from tinct.methods.base import Guidance


def build(guidance: Guidance) -> Panel:
    """The tab: point or stroke, the brush size, the sketch with its hints (click on it), end
    stroke / clear / undo."""
    gr.Markdown("Click on the sketch to place a point of the current colour; in *stroke* mode every click "
                "adds a vertex to the stroke until you end it.")
    with gr.Row():
        mode = gr.Radio(choices=["point", "stroke"], value="point", label="A click places", elem_id="click-mode")
        brush = gr.Slider(0.5, 10.0, value=2.0, step=0.5, label="Size (% of the longer side)", elem_id="brush")
    canvas = gr.Image(label="Click to add hints", interactive=False, format="png", height=420, elem_id="hint-canvas")
    with gr.Row():
        end_button = gr.Button("End stroke", elem_id="end-stroke")
        clear_button = gr.Button("Clear points and strokes", elem_id="clear-hints")
        undo_button = gr.Button("Undo", elem_id="undo-hints")

    def show(session: Session | None) -> dict:
        return {canvas: None if session is None else draw_hints(session)}

    def wire(app: App) -> None:
        @guarded
        def on_click(session, text, kind, size, event: gr.SelectData):
            color = color_of(text)
            x, y = event.index[0], event.index[1]
            fraction = float(size) / 100.0
            if kind == "stroke":
                return app.update(session, lambda s: add_stroke_point(s, x, y, color, width=fraction))
            return app.update(session, lambda s: add_point(s, x, y, color, size=fraction))

        @guarded
        def on_end_stroke(session):
            return app.show(end_stroke(need(session)), "Stroke ended: the next click starts a new one.")

        @guarded
        def on_clear(session):
            return app.update(session, clear_hints)

        state, hex_box = app.widgets.state, app.widgets.colours.hex
        canvas.select(on_click, [state, hex_box, mode, brush], app.outputs, **MODEL_EVENT)
        # in the model's queue: after the clicks before it, whose vertices it must not lose
        end_button.click(on_end_stroke, [state], app.outputs, **MODEL_EVENT)
        clear_button.click(on_clear, [state], app.outputs, **MODEL_EVENT)
        undo_button.click(app.on_undo, [state], app.outputs, **MODEL_EVENT)

    return Panel(outputs=[canvas], show=show, wire=wire)


MODE = Mode(kind="points", label="Points & strokes", tab_id="tab-points", build=build, colours=True)
