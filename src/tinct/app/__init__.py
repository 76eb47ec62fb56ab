"""tinct's web app (``tinct app``): colorize a sketch in the browser.

Upload a sketch, then guide the model in the tabs its declared guidance
(:class:`tinct.methods.base.Guidance`) allows, one module of :mod:`tinct.app.modes` each. There is
one picture: the colorized result (or, with *Show the sketch*, the sketch), at full size, with
the open tab's marks drawn over it (never over the lines); the clicks go on it.

- **Guided regions** (models that rank regions, such as GuidingPainter): the app shows the
  next region the model asks about, highlighted on the picture ("region k of N"); pick its
  colour (colour picker, hex entry or the palette) and apply it, or skip it; the colorized
  image updates after every step.
- **Points & strokes** (models that take point hints): click on the picture to place a point of
  the current colour, or, in stroke mode, click a sequence of vertices that form one stroke;
  the points and strokes are drawn on it, ringed.
- **Reference** (reference-based models such as SCFT): upload a colour picture to take the
  colours from. A model that needs a reference opens on this tab and waits for one.
- **Colour tags** (models conditioned on tags, such as CWR): tick colours of the model's own
  vocabulary; every change colours the sketch again.
- **Styles** (models that take a style, such as RASC): a style seed (the same seed gives the
  same picture); *variations* paints a grid of previews of the next seeds, and a click on one
  takes its seed; a slider mixes the styles of two seeds.
- **Scribbles** (models that take them, such as edge enhancement): click along an edge where
  colour leaked, on the picture, to draw a scribble over it; *Finish scribble* ends it.

**The model picker** (``tinct app`` lists the shipped models; :mod:`tinct.app.picker`) switches
the model without a restart: the sketch stays, with the guidance the new model takes (points and
strokes, the tags of its vocabulary, the style, the scribbles, the reference picture); the tabs
follow the new model, and the open one stays when it has it. Guided-region colours do not carry
over (they answer the old model's questions), and undo starts afresh. Each user has a model of
their own.

Every click and button counts, in order: one given while the model paints the one before waits
in the queue behind it (none is dropped), and the picture stays until the next replaces it. The
picture is sent as a PNG the app encodes itself, fast and lossless
(:func:`tinct.app.pictures.png_bytes`); the downloads are made only when asked for.

The app opens on the Reference tab for a reference-based model, else on the first tab (the
guided regions of a model that ranks regions; the tags of a tags-only model, ...).

Downloads: one row of buttons, one click each: the result as PNG, as layered Photoshop (.psd) or
OpenRaster (.ora) file and the hints as a hint file (``docs/hints.md``), written into the app's own
temporary folder when clicked, then saved by the browser. The palette is one row of swatches (a click
on one makes its colour the current one; the current colour's swatch is marked); colours can be added
and removed, and the palette saved to and loaded from a small JSON file.

Everything a click does to the hints is a plain function over a :class:`Session` (immutable;
each returns a new one, with an undo history; :mod:`tinct.app.session`), so the logic is
tested without a browser. Gradio is imported only by :func:`build_app` and :func:`serve`
(``pip install -e ".[app]"``).

Serving: :func:`serve` binds to 127.0.0.1 unless told otherwise and points Gradio's upload and
cache folder (``GRADIO_TEMP_DIR``) at a temporary folder of its own, deleted on exit; no
``allowed_paths`` are given, so Gradio serves nothing but that folder's files.

Uploads: a sketch or reference picture reaches tinct as a file; its size is read from the
header and checked against the app's pixel budget (:data:`APP_MAX_PIXELS`, 25 MP, or
``max_pixels=``) before it is decoded (:mod:`tinct.app.uploads`). What the app cannot take is a
short message naming the file, and the session before it stays. Every handler is guarded
(:func:`tinct.app.ui.guarded`): an unexpected error shows a generic sentence in the browser and
its traceback goes to the server's log (``logging.getLogger("tinct.app")``).
"""

from tinct.app.palette import (
    DEFAULT_PALETTE,
    MAX_PALETTE,
    load_palette,
    palette_add,
    palette_html,
    palette_remove,
    save_palette,
)
from tinct.app.pictures import (
    HIGHLIGHT,
    HIGHLIGHT_ALPHA,
    SCRIBBLE,
    draw_hints,
    draw_scribbles,
    highlight_region,
    png_bytes,
    sketch_picture,
)
from tinct.app.server import (
    APP_MAX_PIXELS,
    DEFAULT_HOST,
    MAX_UPLOAD,
    GradioMissing,
    build_app,
    check_device,
    launch_options,
    picker_models,
    require_gradio,
    serve,
)
from tinct.app.session import (
    Session,
    View,
    add_point,
    add_scribble_point,
    add_stroke_point,
    apply_color,
    check_tags,
    clear_hints,
    clear_scribbles,
    colorize,
    dropped_guidance,
    end_scribble,
    end_stroke,
    export_file,
    export_files,
    guidance_status,
    kept_hints,
    mix_styles,
    region_order,
    region_status,
    set_style,
    set_tags,
    skip_region,
    start_session,
    style_name,
    style_previews,
    switch_model,
    undo,
)
from tinct.color import normalize_color

__all__ = [
    "APP_MAX_PIXELS",
    "DEFAULT_HOST",
    "DEFAULT_PALETTE",
    "HIGHLIGHT",
    "HIGHLIGHT_ALPHA",
    "MAX_PALETTE",
    "MAX_UPLOAD",
    "SCRIBBLE",
    "GradioMissing",
    "Session",
    "View",
    "add_point",
    "add_scribble_point",
    "add_stroke_point",
    "apply_color",
    "build_app",
    "check_device",
    "check_tags",
    "clear_hints",
    "clear_scribbles",
    "colorize",
    "dropped_guidance",
    "draw_hints",
    "draw_scribbles",
    "end_scribble",
    "end_stroke",
    "export_file",
    "export_files",
    "guidance_status",
    "highlight_region",
    "kept_hints",
    "launch_options",
    "load_palette",
    "mix_styles",
    "normalize_color",
    "palette_add",
    "palette_html",
    "palette_remove",
    "picker_models",
    "png_bytes",
    "region_order",
    "region_status",
    "require_gradio",
    "save_palette",
    "serve",
    "set_style",
    "set_tags",
    "sketch_picture",
    "skip_region",
    "start_session",
    "style_name",
    "style_previews",
    "switch_model",
    "undo",
]
