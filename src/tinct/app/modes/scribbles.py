"""Scribbles (models that take them, such as edge enhancement): where colour leaked across an
edge, the user draws a scribble over it on the picture; every click adds a vertex to the open
scribble until it is finished. The model corrects its colours along the scribble, and the
scribble is a wall between the regions on its two sides (:meth:`tinct.colorizer.Colorizer.walled`).
While the tab is open the scribbles are drawn over the picture."""

import gradio as gr

from tinct.app.pictures import draw_scribbles
from tinct.app.session import Session, add_scribble_point, clear_scribbles, end_scribble
from tinct.app.ui import EVERY_CLICK, App, Mode, Panel, guarded, need
from tinct.hintfile import DEFAULT_STROKE_WIDTH
from tinct.methods.base import Guidance


def click(session: Session, x: int, y: int, size) -> Session:
    """A click at pixel ``(x, y)``: the next point of the open scribble, ``size`` in % of the
    longer side."""
    return add_scribble_point(session, x, y, width=float(size) / 100.0)


def build(guidance: Guidance) -> Panel:
    """The tab: the scribble width, finish / clear / undo (the clicks go on the picture)."""
    gr.Markdown("Where colour leaked across an edge, click along that edge on the picture: every click adds a "
                "point to the scribble (magenta) until you finish it. The colours are kept apart along it.")
    width = gr.Slider(0.5, 5.0, value=DEFAULT_STROKE_WIDTH * 100, step=0.5, label="Width (% of the longer side)",
                      elem_id="scribble-width")
    with gr.Row():
        end_button = gr.Button("Finish scribble", elem_id="end-scribble")
        clear_button = gr.Button("Clear scribbles", elem_id="clear-scribbles")
        undo_button = gr.Button("Undo", elem_id="undo-scribbles")

    def wire(app: App) -> None:
        @guarded
        def on_end(session):
            return app.show(end_scribble(need(session)), "Scribble finished: the next click starts a new one.")

        @guarded
        def on_clear(session):
            return app.update(session, clear_scribbles)

        state = app.widgets.state
        app.take_clicks(MODE.kind, click, [width])
        # in the model's queue: after the clicks before it, whose vertices it must not lose
        end_button.click(on_end, [state], app.outputs, **EVERY_CLICK)
        clear_button.click(on_clear, [state], app.outputs, **EVERY_CLICK)
        undo_button.click(app.on_undo, [state], app.outputs, **EVERY_CLICK)

    return Panel(outputs=[], show=lambda session: {}, wire=wire, marks=draw_scribbles)


MODE = Mode(kind="scribbles", label="Scribbles", tab_id="tab-scribbles", build=build)
