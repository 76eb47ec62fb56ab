"""Reference picture (reference-based models such as SCFT): the user uploads a colour picture
and the model takes its colours. A model that cannot paint without one waits for it."""

from dataclasses import replace

import gradio as gr

from tinct.app.session import Session
from tinct.app.ui import MODEL_EVENT, App, Mode, Panel


def take(session: Session, picture) -> Session:
    """The session with ``picture`` (uint8 ``(H, W, 3|4)``, or None) as its reference."""
    return replace(session, reference=picture)


def build() -> Panel:
    """The tab: the reference picture."""
    gr.Markdown("Upload a colour picture: the model takes its colours.")
    picture = gr.Image(label="Reference picture", type="numpy", image_mode="RGBA", sources=["upload", "clipboard"],
                       height=300, elem_id="reference")

    def wire(app: App) -> None:
        def on_reference(session, value):
            return app.update(session, lambda s: take(s, value))

        picture.upload(on_reference, [app.widgets.state, picture], app.outputs, **MODEL_EVENT)

    return Panel(outputs=[], show=lambda session: {}, wire=wire, given=picture, take=take)


MODE = Mode(kind="reference", label="Reference", tab_id="tab-reference", build=build, opens_first=True)
