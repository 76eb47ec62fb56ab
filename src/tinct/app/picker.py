"""The model picker: a list of models (``tinct app`` lists the shipped ones) to switch between
without restarting the app.

Every listed model is loaded when the app starts (the shipped ones take well under a second and
about 50 MB together), so a switch only prepares the sketch again. The page has a tab for each
mode any listed model takes; those the model in use does not take are hidden. A switch
(:func:`tinct.app.session.switch_model`) keeps the sketch, the guidance the new model takes (points
and strokes, the colour tags of its vocabulary, the style, the scribbles, the reference picture)
and the open tab when the new model has it, else opens the tab that fits it
(:func:`tinct.app.modes.opening_mode`); guided-region colours never carry over (they answer the
questions of the model that asked them), and undo starts afresh. Guidance given in a tab the old
model lacked (a reference picture uploaded while the model took none) is taken by a new model that
takes it. The status line says what was dropped.

Each user (browser tab) has a model of their own: the session names it (``View.model``), so one
user's switch changes nothing for another.

Imported by :func:`tinct.app.build_app` only, after Gradio was found.
"""

from dataclasses import replace

import gradio as gr

from tinct.app.modes import MODES, available_modes, opening_mode
from tinct.app.session import View, colorize, dropped_guidance, switch_model
from tinct.app.ui import EVERY_CLICK, App, guarded, model_line
from tinct.colorizer import Colorizer

#: how a tab of a model not in use is hidden: Gradio 6 hides a shown tab for ``visible="hidden"``,
#: not for ``visible=False`` (the tab stays in the tab bar)
HIDDEN = "hidden"


def model_label(name: str, colorizer: Colorizer) -> str:
    """How the picker lists a model: its name and what it takes."""
    return f"{name} ({colorizer.guidance.describe()})"


def build_picker(models: dict[str, Colorizer], first: str) -> gr.Dropdown:
    """The picker: ``models`` by name, ``first`` chosen."""
    return gr.Dropdown(choices=[(model_label(name, colorizer), name) for name, colorizer in models.items()],
                       value=first, label="Model", filterable=False, elem_id="model",
                       info="Switching keeps the sketch and the guidance the new model takes")


def layout(app: App, view: View) -> dict:
    """The tabs and the colour controls for ``view``'s model: the tabs of the modes it takes shown
    (the open one selected: ``view.mode``), the others hidden."""
    widgets = app.widgets
    shown = {mode.kind for mode in available_modes(app.colorizer_for(view).guidance)}
    update = {tab: gr.update(visible=True if kind in shown else HIDDEN) for kind, tab in widgets.tabs.items()}
    tab_id = next((mode.tab_id for mode in MODES if mode.kind == view.mode), None)
    update[widgets.tab_bar] = gr.update(selected=tab_id)
    update[widgets.colour_box] = gr.update(visible=any(mode.colours for mode in MODES if mode.kind in shown))
    return update


def new_view(app: App, view: View, model: str) -> View:
    """``view`` for ``model``: the open tab kept when the model takes it, else the one it opens on."""
    modes = available_modes(app.models[model].guidance)
    if not any(mode.kind == view.mode for mode in modes):
        opening = opening_mode(modes)
        view = replace(view, mode="" if opening is None else opening.kind)
    return replace(view, model=model)


def wire_picker(app: App) -> None:
    """A choice in the picker switches the user's model (in the model's queue, after the clicks
    before it); the tabs, the status line and the picture follow."""
    widgets = app.widgets
    adapting = [(kind, panel) for kind, panel in app.panels.items() if panel.adapt is not None]
    given_kinds = [kind for kind, _ in app.takers]

    @guarded
    def on_model(session, view, name, *given):
        if name not in app.models:
            raise ValueError(f"no model {name!r} in this app")
        if name == view.model:
            return gr.skip()
        view = new_view(app, view, name)
        colorizer = app.models[name]
        guidance = colorizer.guidance
        values = dict(zip(given_kinds, given, strict=True))
        fitted = {}  # only the tabs it shows: a hidden tab keeps its guidance for a model that takes it
        for kind, panel in adapting:
            if guidance.accepts(kind):
                fitted |= panel.adapt(guidance, values.get(kind))
        if session is None:
            return ({widgets.state: None, widgets.view: view, widgets.status: model_line(colorizer)}
                    | layout(app, view) | fitted)
        before = app.colorizer_for(session).guidance
        switched = switch_model(session, colorizer, view)
        newly = [kind for kind in given_kinds if not before.accepts(kind)]  # kept in their hidden tabs till now
        switched = colorize(colorizer, app.take_given(switched, given, kinds=newly))
        message = f"Now **{name}**: it takes {guidance.describe()}."
        dropped = dropped_guidance(session, switched)
        if dropped:
            message += f" Not carried over: {dropped}."
        return (app.show(switched, f"{message} {app.status_line(switched)}") | {widgets.view: view}
                | layout(app, view) | fitted | app.cleared)

    outputs = [*app.outputs, widgets.view, *widgets.tabs.values(), widgets.tab_bar, widgets.colour_box]
    widgets.model.input(on_model, [widgets.state, widgets.view, widgets.model, *app.given], outputs, **EVERY_CLICK)
