"""Points & strokes (models that take point hints): a click on the picture places a point of the
current colour or, in stroke mode, adds a vertex to the stroke being drawn until it is ended. While
the tab is open the points and strokes are drawn over the picture, ringed so that each shows."""

import gradio as gr

from tinct.app.pictures import draw_hints
from tinct.app.session import Session, add_point, add_stroke_point, clear_hints, end_stroke
from tinct.app.ui import EVERY_CLICK, App, Mode, Panel, color_of, guarded, need
from tinct.methods.base import Guidance


def click(session: Session, x: int, y: int, text, kind: str, size) -> Session:
    """A click at pixel ``(x, y)``: a point of the colour in the hex entry, or the next vertex of
    the stroke; ``size`` in % of the longer side."""
    color, fraction = color_of(text), float(size) / 100.0
    if kind == "stroke":
        return add_stroke_point(session, x, y, color, width=fraction)
    return add_point(session, x, y, color, size=fraction)


def build(guidance: Guidance) -> Panel:
    """The tab: point or stroke, the brush size, end stroke / clear / undo (the clicks go on the
    picture)."""
    gr.Markdown("Click on the picture to place a point of the current colour; in *stroke* mode every click "
                "adds a vertex to the stroke until you end it.")
    with gr.Row():
        mode = gr.Radio(choices=["point", "stroke"], value="point", label="A click places", elem_id="click-mode")
        brush = gr.Slider(0.5, 10.0, value=2.0, step=0.5, label="Size (% of the longer side)", elem_id="brush")
    with gr.Row():
        end_button = gr.Button("End stroke", elem_id="end-stroke")
        clear_button = gr.Button("Clear points and strokes", elem_id="clear-hints")
        undo_button = gr.Button("Undo", elem_id="undo-hints")

    def wire(app: App) -> None:
        @guarded
        def on_end_stroke(session):
            return app.show(end_stroke(need(session)), "Stroke ended: the next click starts a new one.")

        @guarded
        def on_clear(session):
            return app.update(session, clear_hints)

        state = app.widgets.state
        app.take_clicks(MODE.kind, click, [app.widgets.colours.hex, mode, brush])
        # in the model's queue: after the clicks before it, whose vertices it must not lose
        end_button.click(on_end_stroke, [state], app.outputs, **EVERY_CLICK)
        clear_button.click(on_clear, [state], app.outputs, **EVERY_CLICK)
        undo_button.click(app.on_undo, [state], app.outputs, **EVERY_CLICK)

    return Panel(outputs=[], show=lambda session: {}, wire=wire, marks=draw_hints)


MODE = Mode(kind="points", label="Points & strokes", tab_id="tab-points", build=build, colours=True)
