"""Building and serving the app: Gradio is imported here only when the app is built or served
(``pip install -e ".[app]"``), so the rest of :mod:`tinct.app` works without it.

Serving: :func:`serve` binds to 127.0.0.1 unless told otherwise and points Gradio's upload and
cache folder (``GRADIO_TEMP_DIR``) at a temporary folder of its own, deleted on exit; no
``allowed_paths`` are given, so Gradio serves nothing but that folder's files.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from tinct.app.palette import DEFAULT_PALETTE
from tinct.app.uploads import APP_MAX_PIXELS
from tinct.color import normalize_color
from tinct.colorizer import DEFAULT_MODEL, DEFAULT_SIZE, Colorizer

__all__ = ["APP_MAX_PIXELS", "DEFAULT_HOST", "MAX_UPLOAD", "GradioMissing", "build_app", "check_device",
           "launch_options", "picker_models", "require_gradio", "serve"]

DEFAULT_HOST = "127.0.0.1"
MAX_UPLOAD = "50mb"  # sketches, references and palettes; a 4096 px PNG sketch is a few MB


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


def check_device(device) -> None:
    """Raise ValueError, in one line, when ``device`` is no torch device this machine has
    (:func:`tinct.colorizer.resolve_device`)."""
    from tinct.colorizer import resolve_device

    resolve_device(device)


def _check_budget(max_pixels) -> int:
    """``max_pixels`` as the app's budget (None: :data:`APP_MAX_PIXELS`); ValueError if it is none."""
    if max_pixels is None:
        return APP_MAX_PIXELS
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise ValueError(f"max_pixels must be a whole number of pixels, at least 1, got {max_pixels!r}")
    return max_pixels


def _load_colorizer(model, size: int, device: str, max_pixels: int | None = None) -> Colorizer:
    """The app's colorizer; one it loads itself takes pictures up to the app's budget."""
    check_device(device)
    if isinstance(model, Colorizer):
        return model
    return Colorizer.from_pretrained(model, size=size, device=device, max_pixels=_check_budget(max_pixels))


def build_app(model=DEFAULT_MODEL, *, models=None, size: int = DEFAULT_SIZE, device: str = "cpu",
              output_dir: str | os.PathLike | None = None, palette: Sequence[str] = DEFAULT_PALETTE,
              max_pixels: int | None = APP_MAX_PIXELS):
    """The Gradio Blocks of the app (not launched: ``build_app(...).launch(...)``; or :func:`serve`).

    model: a :class:`Colorizer`, a shipped model's name or a checkpoint folder; size, device:
    as for ``tinct colorize`` (size is ignored for a Colorizer; a device this machine lacks is
    a ValueError, :func:`check_device`). models: the model picker's list, to switch between
    without a restart (:mod:`tinct.app.picker`): shipped models' names and checkpoint folders, or
    ``{name: Colorizer or name or folder}``; ``model`` is one of them, or is added first (None, the
    default: no picker). output_dir: where downloads are written (a new temporary folder by
    default). palette: the starting palette. max_pixels: the largest sketch or reference picture
    (width x height) the app takes, checked from the file's header before decoding
    (:data:`APP_MAX_PIXELS`, 25 MP, by default).
    The app has a tab for each guidance mode the model takes (:mod:`tinct.app.modes`).
    Elements carry ``elem_id``s (``sketch``, ``result``, ``region-count``, ``hex``, ``apply-color``,
    ``download-png``, ``tab-guided``, ``model``, ...) for tests and custom CSS.
    """
    require_gradio()
    from tinct.app.build import build_blocks

    max_pixels = _check_budget(max_pixels)
    output_dir = None if output_dir is None else Path(output_dir)
    palette = [normalize_color(color) for color in palette]
    if models is None:
        colorizer = _load_colorizer(model, size, device, max_pixels)
        return build_blocks(colorizer, output_dir=output_dir, palette=palette, max_pixels=max_pixels)
    listed = dict(models.items()) if isinstance(models, Mapping) else {str(entry): entry for entry in models}
    if isinstance(model, Colorizer):
        name = next((key for key, entry in listed.items() if entry is model), None)
        if name is None:
            name = model.method
            listed = {name: model} | listed
    else:
        name = str(model)
        if name not in listed:
            listed = {name: model} | listed
    loaded = {key: _load_colorizer(entry, size, device, max_pixels) for key, entry in listed.items()}
    return build_blocks(loaded[name], output_dir=output_dir, palette=palette, max_pixels=max_pixels, models=loaded,
                        model=name)


def launch_options(*, host: str = DEFAULT_HOST, port: int | None = None, share: bool = False) -> dict:
    """The keyword arguments :func:`serve` gives ``Blocks.launch``: bind ``host`` (127.0.0.1 by
    default), no ``allowed_paths`` (only the app's own uploads and outputs are served), uploads of
    at most ``MAX_UPLOAD``. Errors outside the app's handlers (which say what went wrong
    themselves, :func:`tinct.app.ui.guarded`) show no exception text in the browser; and the
    page's theme, style sheet and script (:func:`tinct.app.build.appearance`). Needs Gradio."""
    from tinct.app.build import appearance

    return {"server_name": host, "server_port": port, "share": share, "max_file_size": MAX_UPLOAD,
            "show_error": False, "inbrowser": False, **appearance()}


def picker_models(model) -> tuple[str, list[str]]:
    """What ``tinct app``'s model picker lists, opening with ``model`` (a shipped model's name or
    folder, or any checkpoint folder): ``(the name it is listed by, the list)``, the shipped
    models, and a checkpoint folder that is none of them first, by its path."""
    from tinct.methods.pretrained import find_model, shipped_models

    names = shipped_models()
    spec = str(model)
    if spec not in names and Path(spec).is_dir():
        here = Path(spec).resolve()
        spec = next((name for name in names if find_model(name).resolve() == here), spec)
    return spec, names if spec in names else [spec, *names]


def serve(model=DEFAULT_MODEL, *, host: str = DEFAULT_HOST, port: int | None = None, share: bool = False,
          size: int = DEFAULT_SIZE, device: str = "cpu", max_pixels: int | None = APP_MAX_PIXELS,
          picker: bool = True, threads: int | None = None) -> None:
    """Run the app until interrupted (Ctrl+C or SIGTERM), opening with ``model`` (a shipped model's
    name or a checkpoint folder); with ``picker``, the user can switch to any shipped model
    (:func:`picker_models`). Gradio's uploads and served copies live in a temporary folder of the
    app's own (``GRADIO_TEMP_DIR``, set before Gradio is imported), deleted on exit. max_pixels: as
    for :func:`build_app`; threads: torch's threads (None: torch's choice; 1 is fastest on a busy
    machine). Raises :class:`GradioMissing`, or FileNotFoundError/ValueError for a model that
    cannot be loaded, a device this machine lacks or a bad budget (before any server starts)."""
    max_pixels = _check_budget(max_pixels)
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a whole number, at least 1, got {threads!r}")
        import torch

        torch.set_num_threads(threads)
    folder = Path(tempfile.mkdtemp(prefix="tinct-app-"))
    previous = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(folder / "gradio")
    try:
        require_gradio()
        listed = None
        if picker and not isinstance(model, Colorizer):
            model, listed = picker_models(model)
        demo = build_app(model, models=listed, size=size, device=device, output_dir=folder / "outputs",
                         max_pixels=max_pixels)
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
