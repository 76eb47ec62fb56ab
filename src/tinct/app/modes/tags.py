"""Colour tags (models conditioned on tags, such as CWR): the user ticks colours of the model's
own vocabulary (``guidance.tags``) and the sketch is colorized again after every change. Tags
ticked before a sketch is uploaded apply to it."""

from dataclasses import replace

import gradio as gr

from tinct.app.session import Session, check_tags, set_tags
from tinct.app.ui import EVERY_CLICK, MODEL_EVENT, App, Mode, Panel, guarded
from tinct.methods.base import Guidance


def tag_label(tag: str) -> str:
    """A tag as the tab shows it: ``skin_medium_light`` -> ``skin medium light``."""
    return tag.replace("_", " ")


def take(app: App, session: Session, tags) -> Session:
    """The session with those of the ticked ``tags`` that are in its model's vocabulary (ticked for
    another model, in an app with a model picker, some may not be), for a new sketch or model:
    taking them over is no change to undo."""
    guidance = app.colorizer_for(session).guidance
    known = [tag for tag in tags or () if tag in guidance.tags]
    return replace(set_tags(session, known, guidance), history=session.history)


def build(guidance: Guidance) -> Panel:
    """The tab: a box per tag of the model's vocabulary, and undo."""
    gr.Markdown("Tick the colours the picture should have: the model paints with them. "
                "Every change colours the sketch again.")
    tags = gr.CheckboxGroup(choices=[(tag_label(tag), tag) for tag in guidance.tags], value=[],
                            label="Colour tags", elem_id="tags")
    undo_button = gr.Button("Undo", elem_id="undo-tags")

    def show(session: Session | None) -> dict:
        return {} if session is None else {tags: list(session.hints.tags)}

    def adapt(guidance: Guidance, ticked) -> dict:
        """Another model's vocabulary; of the ticked tags, those it has stay ticked."""
        return {tags: gr.update(choices=[(tag_label(tag), tag) for tag in guidance.tags],
                                value=[tag for tag in guidance.tags if tag in (ticked or ())])}

    def wire(app: App) -> None:
        @guarded
        def on_tags(session, view, ticked):
            if session is None:  # the next sketch takes them over; say now whether they are known
                check_tags(ticked, app.colorizer_for(view).guidance)
                return app.given_before_a_sketch("Tags")
            return app.update(session, lambda s: set_tags(s, ticked, app.colorizer_for(s).guidance))

        # "input": the user's ticks only (not the ticks ``show`` sets after an undo); every tick
        # counts, even one made while the model paints the one before
        tags.input(on_tags, [app.widgets.state, app.widgets.view, tags], app.outputs, trigger_mode="always_last", **MODEL_EVENT)
        undo_button.click(app.on_undo, [app.widgets.state], app.outputs, **EVERY_CLICK)

    return Panel(outputs=[tags], show=show, wire=wire, given=tags, take=take, adapt=adapt)


MODE = Mode(kind="tags", label="Colour tags", tab_id="tab-tags", build=build)
