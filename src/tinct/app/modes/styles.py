"""Styles (models that take a style code, such as RASC): a style is a seed, and the same seed
always gives the same picture. The user types a seed, or asks for variations (previews of the
next few seeds, in a grid) and clicks one to take its seed, or mixes two seeds with a slider
(:class:`~tinct.hintfile.StyleMix`). A seed typed before a sketch is uploaded applies to it."""

# no ``from __future__ import annotations`` here: Gradio reads the gallery handler's annotation
# (``event: gr.SelectData``) with typing.get_type_hints, which needs real objects.

from dataclasses import replace

import gradio as gr

from tinct.app.session import Session, mix_styles, set_style, style_previews
from tinct.app.ui import EVERY_CLICK, MODEL_EVENT, App, Mode, Panel, guarded, need
from tinct.hintfile import StyleMix, parse_style
from tinct.methods.base import DEFAULT_STYLE_SEED, Guidance

#: how many previews the variations button paints
VARIATIONS = 6
#: the events of the seed boxes and the slider: every change counts, even one made while the
#: model paints the one before (the last one is painted)
EVERY_CHANGE = {"trigger_mode": "always_last", **MODEL_EVENT}


def whole(value):
    """A seed as a number box gives it (``3``, or ``3.0`` before Gradio converts it) as an int;
    anything else as it is (for :func:`~tinct.hintfile.parse_style` to refuse)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def take(app: App, session: Session, seed) -> Session:
    """The session with the seed in the seed box, for a new sketch: taking it over is no change
    to undo."""
    if seed is None:
        return session
    return replace(set_style(session, whole(seed)), history=session.history)


def build(guidance: Guidance) -> Panel:
    """The tab: the seed, the variations and their grid, the mix of two seeds, undo."""
    gr.Markdown("A style is a number, its *seed*: the same seed always gives the same colours. Type one, or show "
                "variations and click the one you like; the slider mixes the styles of two seeds.")
    with gr.Row(equal_height=True):
        seed = gr.Number(value=DEFAULT_STYLE_SEED, precision=0, minimum=0, label="Style seed", elem_id="style-seed")
        variations = gr.Button(f"Show {VARIATIONS} variations", elem_id="style-variations")
    gallery = gr.Gallery(label="Variations: click one to use its seed", columns=3, height="auto", format="png",
                         allow_preview=False, object_fit="contain", interactive=False, elem_id="style-gallery")
    shown = gr.State(())  # the seeds of the previews in the grid, in order
    with gr.Row():
        first = gr.Number(value=DEFAULT_STYLE_SEED, precision=0, minimum=0, label="Mix seed A", elem_id="style-a")
        second = gr.Number(value=DEFAULT_STYLE_SEED + 1, precision=0, minimum=0, label="with seed B",
                           elem_id="style-b")
    mix = gr.Slider(0.0, 1.0, value=0.0, step=0.05, label="From A (0) to B (1)", elem_id="style-mix")
    undo_button = gr.Button("Undo", elem_id="undo-style")

    def show(session: Session | None) -> dict:
        if session is None:
            return {}
        style = session.hints.style
        if isinstance(style, StyleMix):
            return {first: style.first, second: style.second, mix: style.t}
        style = DEFAULT_STYLE_SEED if style is None else style
        return {seed: style, first: style, mix: 0.0}

    def wire(app: App) -> None:
        state = app.widgets.state

        @guarded
        def on_seed(session, value):
            if value is None:  # an emptied box: wait for a number
                return gr.skip()
            if session is None:  # the next sketch takes it over; say now whether it is a seed
                parse_style(whole(value), "the style seed")
                return app.given_before_a_sketch(f"Style seed {value}")
            return app.update(session, lambda s: set_style(s, whole(value)))

        @guarded
        def on_mix(session, a, b, t):
            if a is None or b is None:
                return gr.skip()
            return app.update(session, lambda s: mix_styles(s, whole(a), whole(b), t))

        @guarded
        def on_variations(session, start):
            start = DEFAULT_STYLE_SEED if start is None else whole(start)
            previews = style_previews(app.colorizer_for(session), need(session), range(start, start + VARIATIONS))
            if not previews:
                return {app.widgets.status: app.status_line(session)}
            return {gallery: [(picture, f"seed {number}") for number, picture in previews],
                    shown: tuple(number for number, _ in previews),
                    app.widgets.status: f"Seeds {start} to {start + len(previews) - 1}: click one to use it."}

        @guarded
        def on_pick(session, seeds, event: gr.SelectData):
            index = event.index
            if not isinstance(index, int) or not 0 <= index < len(seeds):
                return gr.skip()
            return app.update(session, lambda s: set_style(s, seeds[index]))

        seed.input(on_seed, [state, seed], app.outputs, **EVERY_CHANGE)
        for box in (first, second):
            box.input(on_mix, [state, first, second, mix], app.outputs, **EVERY_CHANGE)
        mix.release(on_mix, [state, first, second, mix], app.outputs, **EVERY_CHANGE)
        variations.click(on_variations, [state, seed], [gallery, shown, app.widgets.status], **EVERY_CLICK)
        gallery.select(on_pick, [state, shown], app.outputs, **EVERY_CLICK)
        undo_button.click(app.on_undo, [state], app.outputs, **EVERY_CLICK)

    # the previews belong to one sketch: a new sketch clears them
    return Panel(outputs=[seed, first, second, mix, gallery, shown], show=show, wire=wire, given=seed, take=take,
                 cleared={gallery: None, shown: ()})


MODE = Mode(kind="style", label="Styles", tab_id="tab-styles", build=build)
