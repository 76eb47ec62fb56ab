"""Scribbles (models that take them, such as edge enhancement): where colour leaked across an
edge, the user draws a scribble over it on the result; every click adds a vertex to the open
scribble until it is finished. The model corrects its colours along the scribble, and the
scribble is a wall between the regions on its two sides (:meth:`tinct.colorizer.Colorizer.walled`)."""

# no ``from __future__ import annotations`` here: Gradio reads the click handler's annotation
# (``event: gr.SelectData``) with typing.get_type_hints, which needs real objects.

import gradio as gr

from tinct.app.pictures import draw_scribbles
from tinct.app.session import Session, add_scribble_point, clear_scribbles, end_scribble
from tinct.app.ui import MODEL_EVENT, App, Mode, Panel, guarded, need
from tinct.hintfile import DEFAULT_STROKE_WIDTH
from tinct.methods.base import Guidance


def build(guidance: Guidance) -> Panel:
    """The tab: the scribble width, the result with its scribbles (click on it), finish / clear
    / undo."""
    gr.Markdown("Where colour leaked across an edge, click along that edge on the result: every click adds a point "
                "to the scribble (magenta) until you finish it. The colours are kept apart along it.")
    width = gr.Slider(0.5, 5.0, value=DEFAULT_STROKE_WIDTH * 100, step=0.5, label="Width (% of the longer side)",
                      elem_id="scribble-width")
    canvas = gr.Image(label="Click to scribble", interactive=False, format="png", height=420,
                      elem_id="scribble-canvas")
    with gr.Row():
        end_button = gr.Button("Finish scribble", elem_id="end-scribble")
        clear_button = gr.Button("Clear scribbles", elem_id="clear-scribbles")
        undo_button = gr.Button("Undo", elem_id="undo-scribbles")

    def show(session: Session | None) -> dict:
        return {canvas: None if session is None else draw_scribbles(session)}

    def wire(app: App) -> None:
        @guarded
        def on_click(session, size, event: gr.SelectData):
            x, y = event.index[0], event.index[1]
            return app.update(session, lambda s: add_scribble_point(s, x, y, width=float(size) / 100.0))

        @guarded
        def on_end(session):
            return app.show(end_scribble(need(session)), "Scribble finished: the next click starts a new one.")

        @guarded
        def on_clear(session):
            return app.update(session, clear_scribbles)

        state = app.widgets.state
        canvas.select(on_click, [state, width], app.outputs, **MODEL_EVENT)
        # in the model's queue: after the clicks before it, whose vertices it must not lose
        end_button.click(on_end, [state], app.outputs, **MODEL_EVENT)
        clear_button.click(on_clear, [state], app.outputs, **MODEL_EVENT)
        undo_button.click(app.on_undo, [state], app.outputs, **MODEL_EVENT)

    return Panel(outputs=[canvas], show=show, wire=wire)


MODE = Mode(kind="scribbles", label="Scribbles", tab_id="tab-scribbles", build=build)
