"""tinct's web app (``tinct app``): colorize a sketch in the browser.

Upload a sketch, then guide the model in one of three ways:

- **Guided regions** (GuidingPainter): the app shows the next region the model asks about,
  highlighted over the sketch ("region k of N"); pick its colour (colour picker, hex entry or
  the palette) and apply it, or skip it; the colorized image updates after every step.
- **Points & strokes**: click on the sketch to place a point of the current colour, or, in
  stroke mode, click a sequence of vertices that form one stroke.
- **Reference** (reference-based models such as SCFT): upload a colour picture to take the
  colours from. The tab says so when the loaded model takes no reference.

Downloads: the result as PNG, as layered OpenRaster (.ora) and the hints as a hint file
(``docs/hints.md``), written into the app's own temporary folder. The palette can be saved to
and loaded from a small JSON file.

Everything a click does to the hints is a plain function over a :class:`Session` (immutable;
each returns a new one, with an undo history), so the logic is tested without a browser.
Gradio is imported only by :func:`build_app` and :func:`serve` (``pip install -e ".[app]"``).

Serving: :func:`serve` binds to 127.0.0.1 unless told otherwise and points Gradio's upload and
cache folder (``GRADIO_TEMP_DIR``) at a temporary folder of its own, deleted on exit; no
``allowed_paths`` are given, so Gradio serves nothing but that folder's files.
"""

# no ``from __future__ import annotations`` here: Gradio reads the handlers' annotations
# (``event: gr.SelectData``) with typing.get_type_hints, which needs real objects.

import colorsys
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from tinct.colorizer import Colorizer, Prepared, Result
from tinct.hintfile import Hints, Point, Stroke, format_color, hint_pixels, parse_color, save_hints

__all__ = [
    "DEFAULT_PALETTE",
    "GradioMissing",
    "Session",
    "add_point",
    "add_stroke_point",
    "apply_color",
    "build_app",
    "clear_hints",
    "colorize",
    "draw_hints",
    "end_stroke",
    "export_files",
    "highlight_region",
    "launch_options",
    "load_palette",
    "normalize_color",
    "palette_add",
    "palette_html",
    "region_order",
    "region_status",
    "require_gradio",
    "save_palette",
    "serve",
    "sketch_picture",
    "skip_region",
    "start_session",
    "undo",
]

DEFAULT_HOST = "127.0.0.1"
MAX_UPLOAD = "50mb"  # sketches, references and palettes; a 4096 px PNG sketch is a few MB
MAX_PALETTE = 256
DEFAULT_PALETTE = ("#f2c641", "#e05a47", "#3a7bd5", "#6ab04c", "#f5d0b0", "#6b4226", "#9b59b6", "#ffffff")
HIGHLIGHT = (255, 0, 170)  # tint and outline of the region the model asks about
HIGHLIGHT_ALPHA = 0.55
MIN_REGION_FRACTION = 0.0005  # ranked regions smaller than this share of the picture are not asked about


class GradioMissing(RuntimeError):
    """Gradio (the ``app`` extra) is not installed."""


def require_gradio():
    """Import Gradio, or raise :class:`GradioMissing` saying how to install it."""
    try:
        import gradio
    except ImportError as error:
        raise GradioMissing(f'the web app needs Gradio, which is not installed ({error}): '
                            f'pip install -e ".[app]"  (from a tinct checkout; or pip install "tinct[app]")') from None
    return gradio


# ----------------------------------------------------------------------------- colours

_HEX6 = re.compile(r"#?([0-9a-fA-F]{6})(?:[0-9a-fA-F]{2})?")
_HEX3 = re.compile(r"#?([0-9a-fA-F]{3})")
_FUNCTION = re.compile(r"(rgba?|hsla?)\(\s*([^)]*)\)", re.IGNORECASE)


def _channel(text: str, scale: float) -> float:
    """'128' (of ``scale``) or '50%' -> [0, 1]."""
    text = text.strip()
    value = float(text[:-1]) / 100.0 if text.endswith("%") else float(text) / scale
    if not 0.0 <= value <= 1.0:
        raise ValueError
    return value


def normalize_color(value) -> str:
    """A colour as users and Gradio's colour picker write it -> ``"#rrggbb"`` (lower case).

    Accepts ``#rrggbb``, ``rrggbb``, ``#rgb``, ``#rrggbbaa`` (alpha dropped), ``rgb(r, g, b)``
    / ``rgba(r, g, b, a)`` (0-255 or percentages; the picker emits these) and ``hsl(h, s%, l%)``
    / ``hsla(...)``. Raises ValueError naming the text otherwise.
    """
    if not isinstance(value, str):
        raise ValueError(f"a colour must be text such as #f2c641, got {value!r}")
    text = value.strip()
    if match := _HEX6.fullmatch(text):
        return "#" + match.group(1).lower()
    if match := _HEX3.fullmatch(text):
        return "#" + "".join(2 * c for c in match.group(1).lower())
    if match := _FUNCTION.fullmatch(text):
        kind, parts = match.group(1).lower(), [p for p in re.split(r"[\s,/]+", match.group(2).strip()) if p]
        try:
            if len(parts) not in (3, 4):
                raise ValueError
            if kind.startswith("rgb"):
                rgb = tuple(_channel(p, 255.0) for p in parts[:3])
            else:
                hue = float(parts[0].removesuffix("deg")) % 360.0 / 360.0
                saturation, lightness = _channel(parts[1], 100.0), _channel(parts[2], 100.0)
                red, green, blue = colorsys.hls_to_rgb(hue, lightness, saturation)
                rgb = (red, green, blue)
            return format_color(rgb)
        except ValueError:
            pass
    raise ValueError(f"not a colour: {value!r} (write it as #rrggbb, e.g. #f2c641)")


# ----------------------------------------------------------------------------- palettes


def palette_add(palette: Sequence[str], color: str) -> list[str]:
    """The palette with ``color`` appended (normalised); a colour already there is not repeated."""
    color = normalize_color(color)
    colors = [normalize_color(c) for c in palette]
    if color in colors:
        return colors
    if len(colors) >= MAX_PALETTE:
        raise ValueError(f"the palette is full ({MAX_PALETTE} colours)")
    return colors + [color]


def save_palette(palette: Sequence[str], path: str | os.PathLike) -> Path:
    """Write the palette as JSON: ``{"version": 1, "colors": ["#rrggbb", ...]}``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    colors = [normalize_color(c) for c in palette]
    path.write_text(json.dumps({"version": 1, "colors": colors}, indent=2) + "\n", encoding="utf-8")
    return path


def load_palette(path: str | os.PathLike) -> list[str]:
    """Read a palette file written by :func:`save_palette` (a bare JSON list of colours is read
    too). Raises ValueError naming the file and the bad entry."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path.name}: not a palette file ({error})") from None
    if isinstance(data, dict):
        if data.get("version", 1) != 1 or not isinstance(data.get("colors"), list):
            raise ValueError(f"{path.name}: a palette file holds {{\"version\": 1, \"colors\": [\"#rrggbb\", ...]}}")
        data = data["colors"]
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path.name}: a palette file holds a non-empty list of colours")
    if len(data) > MAX_PALETTE:
        raise ValueError(f"{path.name}: {len(data)} colours, at most {MAX_PALETTE}")
    colors: list[str] = []
    for i, item in enumerate(data):
        try:
            color = normalize_color(item)
        except ValueError as error:
            raise ValueError(f"{path.name}: colour {i + 1}: {error}") from None
        if color not in colors:
            colors.append(color)
    return colors


def palette_html(palette: Sequence[str]) -> str:
    """The palette as a strip of swatches (colours are validated, so the HTML is safe)."""
    style = "display:inline-block;width:22px;height:22px;margin:2px;border-radius:4px;border:1px solid #8888"
    swatches = "".join(f'<span class="tinct-swatch" title="{c}" style="{style};background:{c}"></span>'
                       for c in (normalize_color(c) for c in palette))
    return f'<div class="tinct-palette">{swatches}</div>'


# ----------------------------------------------------------------------------- the session


@dataclass(frozen=True, eq=False)
class Session:
    """One user's work on one sketch.

    prepared: the colorizer's hint-independent work (region map, ranking);
    order: the ranks of the GuidingPainter regions the app asks about, in the model's order
    (ranks whose region is empty or tiny in this picture are left out; empty for other models);
    step: index into ``order`` of the region asked about now (``len(order)``: all done);
    hints: everything the user gave (``hints.regions[rank]`` is a region's colour);
    stroke_open: the next stroke click extends the last stroke;
    reference: uint8 ``(H, W, 3|4)`` reference picture (reference-based models) or None;
    result: the latest colorization; history: earlier ``(hints, step, stroke_open)`` for undo;
    key: names this session's output folder.
    """

    prepared: Prepared
    order: tuple[int, ...] = ()
    step: int = 0
    hints: Hints = Hints()
    stroke_open: bool = False
    reference: np.ndarray | None = None
    result: Result | None = None
    history: tuple[tuple[Hints, int, bool], ...] = ()
    key: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def height(self) -> int:
        return self.prepared.height

    @property
    def width(self) -> int:
        return self.prepared.width

    @property
    def current_region(self) -> int | None:
        """The rank of the region the model asks about now, or None when all are done."""
        return self.order[self.step] if self.step < len(self.order) else None

    def _changed(self, **changes) -> "Session":
        """A new session with ``changes``, the current hints pushed onto the undo history."""
        snapshot = (self.hints, self.step, self.stroke_open)
        return replace(self, history=self.history + (snapshot,), **changes)


def region_order(guide_regions: np.ndarray | None, *, min_fraction: float = MIN_REGION_FRACTION) -> tuple[int, ...]:
    """The ranks present in ``guide_regions`` (int ``(H, W)``, rank per pixel) covering at
    least ``min_fraction`` of the picture, in rank order (the model's priority)."""
    if guide_regions is None:
        return ()
    counts = np.bincount(np.asarray(guide_regions).ravel().astype(np.int64))
    least = max(1, int(np.ceil(min_fraction * guide_regions.size)))
    return tuple(int(rank) for rank in np.flatnonzero(counts >= least))


def start_session(colorizer: Colorizer, sketch, *, min_fraction: float = MIN_REGION_FRACTION) -> Session:
    """A new session for ``sketch`` (anything :meth:`Colorizer.prepare` takes)."""
    prepared = colorizer.prepare(sketch)
    return Session(prepared=prepared, order=region_order(prepared.guide_regions, min_fraction=min_fraction))


def region_status(session: Session) -> str:
    """"Region k of N", or what to do when the model ranks no regions or all are done."""
    total = len(session.order)
    if total == 0:
        return "This model does not rank regions: use points and strokes."
    if session.step >= total:
        return f"All {total} regions done: refine with points and strokes, or undo."
    return f"Region {session.step + 1} of {total}"


def apply_color(session: Session, color) -> Session:
    """Give the region asked about now ``color`` (hex text or RGB in [0, 1]) and move on to
    the next one. Raises ValueError when every region is done or the colour is not one."""
    rank = session.current_region
    if rank is None:
        raise ValueError("every region has been asked about: undo to change one, or use points and strokes")
    rgb = parse_color(normalize_color(color) if isinstance(color, str) else color)
    regions = list(session.hints.regions) + [None] * max(0, rank + 1 - len(session.hints.regions))
    regions[rank] = rgb
    hints = Hints(points=session.hints.points, strokes=session.hints.strokes, regions=tuple(regions))
    return session._changed(hints=hints, step=session.step + 1)


def skip_region(session: Session) -> Session:
    """Leave the region asked about now without a colour; move on to the next one."""
    if session.current_region is None:
        raise ValueError("every region has been asked about")
    return session._changed(step=session.step + 1)


def undo(session: Session) -> Session:
    """The session before the last change (the same session when there is nothing to undo)."""
    if not session.history:
        return session
    hints, step, stroke_open = session.history[-1]
    return replace(session, hints=hints, step=step, stroke_open=stroke_open, history=session.history[:-1])


def _normalised(session: Session, x: float, y: float) -> tuple[float, float]:
    """Pixel coordinates of a click (column x, row y) -> the centre of that pixel in [0, 1]."""
    if not (0 <= x < session.width and 0 <= y < session.height):
        raise ValueError(f"({x}, {y}) lies outside the {session.width} x {session.height} sketch")
    return (int(x) + 0.5) / session.width, (int(y) + 0.5) / session.height


def add_point(session: Session, x: float, y: float, color, *, size: float = 0.02) -> Session:
    """A point hint at pixel ``(x, y)`` (column, row) of the sketch; ``size`` is the patch side
    as a fraction of the longer side. Closes an open stroke."""
    px, py = _normalised(session, x, y)
    point = Point(x=px, y=py, color=parse_color(normalize_color(color)), size=float(size))
    hints = replace(session.hints, points=session.hints.points + (point,))
    return session._changed(hints=hints, stroke_open=False)


def add_stroke_point(session: Session, x: float, y: float, color, *, width: float = 0.01) -> Session:
    """Extend the open stroke to pixel ``(x, y)``, or start a new stroke there when none is
    open (or the colour or width changed)."""
    px, py = _normalised(session, x, y)
    rgb = parse_color(normalize_color(color))
    strokes = session.hints.strokes
    last = strokes[-1] if strokes else None
    if session.stroke_open and last is not None and last.color == rgb and last.width == float(width):
        strokes = strokes[:-1] + (replace(last, points=last.points + ((px, py),)),)
    else:
        strokes = strokes + (Stroke(points=((px, py),), color=rgb, width=float(width)),)
    return session._changed(hints=replace(session.hints, strokes=strokes), stroke_open=True)


def end_stroke(session: Session) -> Session:
    """Close the open stroke: the next stroke click starts a new one."""
    return replace(session, stroke_open=False)


def clear_hints(session: Session) -> Session:
    """Remove every point and stroke (region colours stay; undo brings them back)."""
    return session._changed(hints=replace(session.hints, points=(), strokes=()), stroke_open=False)


# ----------------------------------------------------------------------------- pictures


def sketch_picture(session: Session) -> np.ndarray:
    """The uploaded sketch as uint8 ``(H, W, 3)``."""
    return _uint8(session.prepared.original)


def _uint8(image) -> np.ndarray:
    return (image.detach().float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy().copy()


def highlight_region(session: Session, rank: int | None = None) -> np.ndarray:
    """The sketch with the colours given so far multiplied into their regions and region
    ``rank`` (default: the one asked about now) tinted and outlined in magenta: uint8 ``(H, W, 3)``."""
    picture = sketch_picture(session).astype(np.float32)
    guide = session.prepared.guide_regions
    if guide is None:
        return picture.astype(np.uint8)
    for given, color in enumerate(session.hints.regions):
        if color is not None:
            picture[guide == given] *= np.asarray(color, np.float32)
    rank = session.current_region if rank is None else rank
    if rank is not None:
        inside = guide == rank
        tint = np.asarray(HIGHLIGHT, np.float32)
        picture[inside] = (1 - HIGHLIGHT_ALPHA) * picture[inside] + HIGHLIGHT_ALPHA * tint
        thickness = max(1, round(max(session.height, session.width) / 256))
        kernel = np.ones((2 * thickness + 1, 2 * thickness + 1), np.uint8)
        outline = inside & ~cv2.erode(inside.astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE).astype(bool)
        picture[outline] = tint
    return np.clip(picture.round(), 0, 255).astype(np.uint8)


def draw_hints(session: Session) -> np.ndarray:
    """The sketch with its points and strokes painted in their colours: uint8 ``(H, W, 3)``."""
    picture = sketch_picture(session)
    for rows, cols, color in hint_pixels(session.hints, session.height, session.width):
        picture[rows, cols] = np.round(np.asarray(color) * 255).astype(np.uint8)
    return picture


def colorize(colorizer: Colorizer, session: Session) -> Session:
    """The session with ``result`` painted from its hints (or its reference); a reference-based
    model without a reference yet gives ``result=None``."""
    if colorizer.takes_reference and session.reference is None:
        return replace(session, result=None)
    reference = session.reference
    if reference is not None and reference.ndim == 3 and reference.shape[2] == 4:
        reference = _flatten_alpha(reference)
    result = colorizer.colorize(session.prepared, hints=session.hints, reference=reference)
    return replace(session, result=result)


def _flatten_alpha(rgba: np.ndarray) -> np.ndarray:
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    return np.round(rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)


def export_files(session: Session, folder: str | os.PathLike, *, stem: str = "colorized") -> tuple[Path, Path, Path]:
    """Write the latest result as ``STEM.png`` and ``STEM.ora`` and the hints as
    ``STEM_hints.json`` into ``folder/<session key>/``; returns the three paths."""
    if session.result is None:
        raise ValueError("nothing to download yet: colorize the sketch first")
    target = Path(folder) / session.key
    target.mkdir(parents=True, exist_ok=True)
    png = session.result.save(target / f"{stem}.png")
    ora = session.result.save(target / f"{stem}.ora")
    hints = save_hints(session.hints, target / f"{stem}_hints.json")
    return png, ora, hints


# ----------------------------------------------------------------------------- the Gradio app

HELP = """**tinct** colorizes line art. Upload a sketch; then give colours to the regions the model asks about
(*Guided regions*), click points and strokes (*Points & strokes*), or give a colour picture (*Reference*).
The result keeps your lines pixel for pixel; download it as PNG, as layered OpenRaster (.ora: lines, flat
colours, result) or the hints as a hint file for `tinct colorize --hints`."""


def _load_colorizer(model, size: int, device: str) -> Colorizer:
    if isinstance(model, Colorizer):
        return model
    return Colorizer.from_pretrained(model, size=size, device=device)


def build_app(model="guiding_painter", *, size: int = 128, device: str = "cpu",
              output_dir: str | os.PathLike | None = None, palette: Sequence[str] = DEFAULT_PALETTE):
    """The Gradio Blocks of the app (not launched: ``build_app(...).launch(...)``; or :func:`serve`).

    model: a :class:`Colorizer`, a shipped model's name or a checkpoint folder; size, device:
    as for ``tinct colorize`` (ignored for a Colorizer). output_dir: where downloads are
    written (a new temporary folder by default). palette: the starting palette.
    Elements carry ``elem_id``s (``sketch``, ``result``, ``region-count``, ``hex``, ``apply-color``,
    ``download-png``, ...) for tests and custom CSS.
    """
    gr = require_gradio()
    colorizer = _load_colorizer(model, size, device)
    folders = {"outputs": None if output_dir is None else Path(output_dir)}

    def outputs_folder() -> Path:
        """Where downloads go; a new temporary folder on the first download by default."""
        if folders["outputs"] is None:
            folders["outputs"] = Path(tempfile.mkdtemp(prefix="tinct-app-"))
        return folders["outputs"]

    start_palette = [normalize_color(c) for c in palette]
    guided, points, reference_model = colorizer.takes_regions, colorizer.takes_points, colorizer.takes_reference

    def model_line():
        kinds = [name for name, ok in (("ranked regions", guided), ("points and strokes", points),
                                       ("a reference picture", reference_model)) if ok]
        takes = ", ".join(kinds) or "no guidance"
        return f"Model: **{colorizer.method}** ({colorizer.size} px network); it takes {takes}."

    def fail(message):
        """An error the user sees as a message (no traceback on the console: it is not a bug)."""
        return gr.Error(message, print_exception=False)

    def need(session):
        if session is None:
            raise fail("Upload a sketch first.")
        return session

    def views(session, message=""):
        """(state, result, region view, region label, hint canvas, status, 3 x no download) for a
        session: a change of the hints makes the downloads stale, so they are cleared."""
        if session is None:
            return None, None, None, "Upload a sketch.", None, message or model_line(), None, None, None
        result = None if session.result is None else _uint8(session.result.image)
        status = message or (f"{session.width} x {session.height} px sketch, "
                             f"{int(session.prepared.regions.max())} flat regions."
                             + ("" if result is not None or not reference_model else " Upload a reference picture."))
        return (session, result, highlight_region(session) if guided else sketch_picture(session),
                region_status(session) if guided else "", draw_hints(session), status, None, None, None)

    def update(session, change):
        """Apply ``change`` (a plain function) and colorize; ValueErrors become a message."""
        session = need(session)
        try:
            return views(colorize(colorizer, change(session)))
        except ValueError as error:
            raise fail(str(error)) from None

    def color_of(text):
        try:
            return normalize_color(text)
        except ValueError as error:
            raise fail(str(error)) from None

    def on_sketch(picture, reference):
        if picture is None:
            return views(None)
        try:
            session = start_session(colorizer, picture)
            if reference is not None and reference_model:
                session = replace(session, reference=reference)
            return views(colorize(colorizer, session))
        except ValueError as error:
            raise fail(f"cannot colorize this sketch: {error}") from None

    def on_apply(session, text):
        color = color_of(text)
        return update(session, lambda s: apply_color(s, color))

    def on_skip(session):
        return update(session, skip_region)

    def on_undo(session):
        session = need(session)
        if not session.history:
            return views(session, "Nothing to undo.")
        return update(session, undo)

    def on_canvas(session, text, mode, brush, event: gr.SelectData):
        color = color_of(text)
        x, y = event.index[0], event.index[1]
        fraction = float(brush) / 100.0
        if mode == "stroke":
            return update(session, lambda s: add_stroke_point(s, x, y, color, width=fraction))
        return update(session, lambda s: add_point(s, x, y, color, size=fraction))

    def on_end_stroke(session):
        return views(end_stroke(need(session)), "Stroke ended: the next click starts a new one.")

    def on_clear(session):
        return update(session, clear_hints)

    def on_reference(session, reference):
        return update(session, lambda s: replace(s, reference=reference))

    def on_export(session):
        try:
            return [str(path) for path in export_files(need(session), outputs_folder())]
        except (ValueError, OSError) as error:
            raise fail(str(error)) from None

    def on_picker(value):
        try:
            return normalize_color(value)
        except ValueError:
            return gr.update()

    def on_hex(text):
        try:
            color = normalize_color(text)
        except ValueError as error:
            gr.Warning(str(error))
            return gr.update(), gr.update()
        return color, color

    def on_palette_pick(color):
        if not color:
            return gr.update(), gr.update()
        return color, color

    def palette_views(colors, selected=None):
        return colors, gr.update(choices=colors, value=selected), palette_html(colors)

    def on_palette_add(colors, text):
        try:
            colors = palette_add(colors, text)
        except ValueError as error:
            raise fail(str(error)) from None
        return palette_views(colors, normalize_color(text))

    def on_palette_save(colors):
        path = save_palette(colors, outputs_folder() / f"palette-{uuid.uuid4().hex}" / "palette.json")
        return gr.update(value=str(path), visible=True)

    def on_palette_load(file):
        try:
            colors = load_palette(file if isinstance(file, str) else file.name)
        except ValueError as error:
            raise fail(str(error)) from None
        return palette_views(colors)

    # system fonts: the default theme fetches web fonts, which an offline machine cannot (and
    # an artist's sketch session need not tell anyone about)
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "Consolas", "monospace"])
    with warnings.catch_warnings():  # Gradio 5 announces that Gradio 6 moves `theme` to launch()
        warnings.filterwarnings("ignore", message="The 'theme' parameter", category=DeprecationWarning)
        demo = gr.Blocks(title="tinct", theme=theme, analytics_enabled=False, delete_cache=(3600, 3600))
    with demo:
        state = gr.State(None)
        palette_state = gr.State(start_palette)
        gr.Markdown(HELP)
        status = gr.Markdown(model_line(), elem_id="status")
        with gr.Row():
            with gr.Column(scale=1, min_width=260):
                sketch = gr.Image(label="Sketch", type="numpy", image_mode="RGBA", sources=["upload", "clipboard"],
                                  format="png", height=280, elem_id="sketch")
                picker = gr.ColorPicker(value=start_palette[0], label="Colour", elem_id="color-picker")
                hex_box = gr.Textbox(value=start_palette[0], label="Hex", max_lines=1, elem_id="hex",
                                     info="#rrggbb; press Enter to set the picker")
                palette_pick = gr.Radio(choices=start_palette, label="Palette", elem_id="palette")
                swatches = gr.HTML(palette_html(start_palette), padding=False, elem_id="palette-swatches")
                with gr.Row():
                    add_button = gr.Button("Add colour to palette", size="sm", elem_id="palette-add")
                    save_button = gr.Button("Save palette", size="sm", elem_id="palette-save")
                    load_button = gr.UploadButton("Load palette", file_types=[".json"], size="sm",
                                                  elem_id="palette-load")
                palette_file = gr.File(label="Palette file", interactive=False, visible=False, elem_id="palette-file")
            with gr.Column(scale=2):
                with gr.Tabs():
                    with gr.Tab("Guided regions", elem_id="tab-guided"):
                        region_label = gr.Markdown("Upload a sketch.", elem_id="region-count")
                        if not guided:
                            gr.Markdown(f"The **{colorizer.method}** model does not rank regions; "
                                        f"use the other tabs (or start the app with a GuidingPainter model).")
                        region_view = gr.Image(label="The region the model asks about (magenta)", interactive=False,
                                               format="png", height=420, elem_id="region-view")
                        with gr.Row():
                            apply_button = gr.Button("Apply colour", variant="primary", interactive=guided,
                                                     elem_id="apply-color")
                            skip_button = gr.Button("Skip region", interactive=guided, elem_id="skip-region")
                            undo_button = gr.Button("Undo", elem_id="undo")
                    with gr.Tab("Points & strokes", elem_id="tab-points"):
                        if points:
                            gr.Markdown("Click on the sketch to place a point of the current colour; in *stroke* "
                                        "mode every click adds a vertex to the stroke until you end it.")
                        else:
                            gr.Markdown(f"The **{colorizer.method}** model takes no point or stroke hints.")
                        with gr.Row():
                            mode = gr.Radio(choices=["point", "stroke"], value="point", label="A click places",
                                            interactive=points, elem_id="click-mode")
                            brush = gr.Slider(0.5, 10.0, value=2.0, step=0.5, label="Size (% of the longer side)",
                                              interactive=points, elem_id="brush")
                        hint_canvas = gr.Image(label="Click to add hints", interactive=False, format="png",
                                               height=420, elem_id="hint-canvas")
                        with gr.Row():
                            end_button = gr.Button("End stroke", interactive=points, elem_id="end-stroke")
                            clear_button = gr.Button("Clear points and strokes", interactive=points,
                                                     elem_id="clear-hints")
                            undo_button_2 = gr.Button("Undo", elem_id="undo-hints")
                    with gr.Tab("Reference", elem_id="tab-reference"):
                        if reference_model:
                            gr.Markdown("Upload a colour picture: the model takes its colours.")
                        else:
                            gr.Markdown(f"Reference mode is off: the **{colorizer.method}** model does not take a "
                                        f"reference picture. Start the app with a reference-based model "
                                        f"(`tinct app --model DIR`, e.g. an SCFT checkpoint).",
                                        elem_id="reference-off")
                        reference = gr.Image(label="Reference picture", type="numpy", image_mode="RGBA",
                                             sources=["upload", "clipboard"], visible=reference_model,
                                             height=300, elem_id="reference")
            with gr.Column(scale=2):
                result = gr.Image(label="Colorized", interactive=False, format="png", height=420, elem_id="result")
                export_button = gr.Button("Prepare downloads (PNG, ORA, hint file)", elem_id="export")
                png_file = gr.File(label="PNG", interactive=False, elem_id="download-png")
                ora_file = gr.File(label="OpenRaster (.ora)", interactive=False, elem_id="download-ora")
                hints_file = gr.File(label="Hint file (.json)", interactive=False, elem_id="download-hints")

        outputs = [state, result, region_view, region_label, hint_canvas, status, png_file, ora_file, hints_file]
        model_event = {"concurrency_id": "model", "concurrency_limit": 1}
        sketch.change(on_sketch, [sketch, reference], outputs, **model_event)  # upload, paste, clear
        apply_button.click(on_apply, [state, hex_box], outputs, **model_event)
        skip_button.click(on_skip, [state], outputs, **model_event)
        for button in (undo_button, undo_button_2):
            button.click(on_undo, [state], outputs, **model_event)
        hint_canvas.select(on_canvas, [state, hex_box, mode, brush], outputs, **model_event)
        end_button.click(on_end_stroke, [state], outputs)
        clear_button.click(on_clear, [state], outputs, **model_event)
        reference.upload(on_reference, [state, reference], outputs, **model_event)
        export_button.click(on_export, [state], [png_file, ora_file, hints_file])
        picker.input(on_picker, [picker], [hex_box])
        hex_box.submit(on_hex, [hex_box], [picker, hex_box])
        hex_box.blur(on_hex, [hex_box], [picker, hex_box])
        palette_pick.input(on_palette_pick, [palette_pick], [picker, hex_box])
        add_button.click(on_palette_add, [palette_state, hex_box], [palette_state, palette_pick, swatches])
        save_button.click(on_palette_save, [palette_state], [palette_file])
        load_button.upload(on_palette_load, [load_button], [palette_state, palette_pick, swatches])
    return demo


def launch_options(*, host: str = DEFAULT_HOST, port: int | None = None, share: bool = False) -> dict:
    """The keyword arguments :func:`serve` gives ``Blocks.launch``: bind ``host`` (127.0.0.1 by
    default), no ``allowed_paths`` (only the app's own uploads and outputs are served), uploads of
    at most ``MAX_UPLOAD``."""
    return {"server_name": host, "server_port": port, "share": share, "max_file_size": MAX_UPLOAD,
            "show_error": True, "inbrowser": False}


def serve(model="guiding_painter", *, host: str = DEFAULT_HOST, port: int | None = None, share: bool = False,
          size: int = 128, device: str = "cpu") -> None:
    """Run the app until interrupted (Ctrl+C or SIGTERM). Gradio's uploads and served copies live
    in a temporary folder of the app's own (``GRADIO_TEMP_DIR``, set before Gradio is imported),
    deleted on exit. Raises :class:`GradioMissing`, or FileNotFoundError/ValueError for a model
    that cannot be loaded (before any server starts)."""
    folder = Path(tempfile.mkdtemp(prefix="tinct-app-"))
    previous = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(folder / "gradio")
    try:
        require_gradio()
        colorizer = _load_colorizer(model, size, device)
        demo = build_app(colorizer, output_dir=folder / "outputs")
        demo.queue(max_size=32).launch(prevent_thread_lock=True, quiet=True,
                                       **launch_options(host=host, port=port, share=share))
        print(f"tinct app: {demo.local_url} (Ctrl+C stops it)", flush=True)
        if demo.share_url:
            print(f"tinct app: public link {demo.share_url}", flush=True)
        _stop_on_sigterm()
        demo.block_thread()  # returns on Ctrl+C, after closing the server
    finally:
        if previous is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = previous
        shutil.rmtree(folder, ignore_errors=True)


def _stop_on_sigterm() -> None:
    """Let ``kill`` stop the app like Ctrl+C does, so that its temporary folder is removed."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
