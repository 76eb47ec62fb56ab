"""Reference picture (reference-based models such as SCFT): the user uploads a colour picture
and the model takes its colours. A model that cannot paint without one waits for it."""

from dataclasses import replace

import gradio as gr

from tinct.app.session import Session
from tinct.app.ui import EVERY_CLICK, UPLOAD_EVENT, App, Mode, Panel, guarded
from tinct.image import fit_square
from tinct.methods.base import Guidance


def take(app: App, session: Session, upload) -> Session:
    """The session with the uploaded picture (None: no reference) as its reference, its size
    checked before decoding (:meth:`App.picture`). The model sees a reference only fitted to its
    network's square (:meth:`tinct.colorizer.Colorizer.inputs`), so the session keeps just that,
    ``(3, S, S)`` (fitting it again changes nothing), not a full-size copy."""
    picture = app.picture(upload)
    return replace(session, reference=None if picture is None else fit_square(picture, app.colorizer_for(session).size))


def build(guidance: Guidance) -> Panel:
    """The tab: the reference picture."""
    gr.Markdown("Upload a colour picture: the model takes its colours.")
    # its events get the uploaded file, not pixels (UPLOAD_EVENT): the app checks the size first
    picture = gr.Image(label="Reference picture", type="filepath", sources=["upload", "clipboard"], height=300,
                       elem_id="reference")

    def wire(app: App) -> None:
        @guarded
        def on_reference(session, upload):
            if session is None:  # the next sketch takes it over; say now whether the app can read it
                app.picture(upload)
                return {app.widgets.status: "Reference picture taken: now upload a sketch."}
            return app.update(session, lambda s: take(app, s, upload))

        picture.upload(on_reference, [app.widgets.state, picture], app.outputs, **EVERY_CLICK, **UPLOAD_EVENT)

    return Panel(outputs=[], show=lambda session: {}, wire=wire, given=picture, take=take)


MODE = Mode(kind="reference", label="Reference", tab_id="tab-reference", build=build, opens_first=True)
