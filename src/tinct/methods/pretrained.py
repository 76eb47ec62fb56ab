"""Checkpoint folders: ``config.json`` + ``model.safetensors``, shared by every method.

``config.json`` holds the method's resolved ``Config`` (``dataclasses.asdict``) with a
``"method"`` key naming the entry of :data:`tinct.methods.METHODS` that loads it;
``model.safetensors`` holds the module's state dict (parameters and buffers such as
BatchNorm statistics). Loading never unpickles anything, so a checkpoint cannot run code.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TypeVar

from safetensors.torch import load_file, save_file
from torch import nn

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def save_pretrained(module: nn.Module, config, folder: str | Path) -> Path:
    """Write ``folder/config.json`` and ``folder/model.safetensors``; returns the folder.

    ``config`` is the dataclass the module was built from. The ``"method"`` key is the
    config's ``method`` field, or the module's ``name`` when the config has none.
    """
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise ValueError(f"config must be a dataclass instance, got {type(config).__name__}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    values = dataclasses.asdict(config)
    values.setdefault("method", getattr(module, "name", type(module).__name__))
    (folder / CONFIG_FILE).write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")
    state = {key: tensor.detach().cpu().contiguous() for key, tensor in module.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"method": str(values["method"])})
    return folder


def load_config(config_cls: type, folder: str | Path):
    """Read ``folder/config.json`` into ``config_cls``.

    Raises FileNotFoundError when the file is missing and ValueError when it names another
    method or holds keys that ``config_cls`` does not know. JSON lists become tuples where
    the field's default is a tuple.
    """
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a tinct checkpoint folder")
    values = json.loads(path.read_text())
    if not isinstance(values, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(values).__name__}")
    defaults = config_cls()
    names = {field.name for field in dataclasses.fields(config_cls)}
    expected_method = getattr(defaults, "method", None)
    method = values.get("method")
    if expected_method is not None and method != expected_method:
        raise ValueError(f"{path} is a {method!r} checkpoint, not {expected_method!r}")
    if "method" not in names:
        values.pop("method", None)
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"{path}: unknown config keys {unknown} for {config_cls.__name__}")
    for name, value in values.items():
        if isinstance(getattr(defaults, name), tuple) and isinstance(value, list):
            values[name] = tuple(value)
    return config_cls(**values)


def load_pretrained(cls: type[ModuleT], config_cls: type, folder: str | Path) -> ModuleT:
    """Rebuild ``cls(config)`` from a folder written by :func:`save_pretrained`, in eval mode.

    Raises FileNotFoundError naming a missing file, ValueError for a config that does not
    fit (see :func:`load_config`); the state dict must match exactly.
    """
    config = load_config(config_cls, folder)
    path = Path(folder) / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the checkpoint has no weights")
    module = cls(config)
    state = load_file(str(path), device="cpu")
    module.load_state_dict(state, strict=True)
    return module.eval()



# ----------------------------------------------------------------------------- finding and loading models


def checkpoint_folders() -> list[Path]:
    """Where shipped models are looked up, in order: ``$TINCT_CHECKPOINTS``; the checkpoints
    installed with tinct (package data ``tinct/checkpoints``, present in a wheel and in an
    editable install); ``checkpoints/`` of a source checkout run without installing."""
    import importlib.util
    import os

    folders = []
    if os.environ.get("TINCT_CHECKPOINTS"):
        folders.append(Path(os.environ["TINCT_CHECKPOINTS"]))
    try:  # a namespace package of data folders: its search locations are the folders
        spec = importlib.util.find_spec("tinct.checkpoints")
    except ModuleNotFoundError:
        spec = None
    if spec is not None and spec.submodule_search_locations:
        folders += [Path(location) for location in spec.submodule_search_locations]
    source = Path(__file__).resolve().parents[3] / "checkpoints"
    if (source.parent / "pyproject.toml").is_file():
        folders.append(source)
    unique = []
    for folder in folders:
        if folder not in unique:
            unique.append(folder)
    return unique


def shipped_models() -> list[str]:
    """Names of the shipped models found in :func:`checkpoint_folders`."""
    return sorted({p.name for folder in checkpoint_folders() if folder.is_dir() for p in folder.iterdir()
                   if (p / CONFIG_FILE).is_file()})


def find_model(spec: str | Path) -> Path:
    """A checkpoint folder, or a shipped model's name -> its folder.

    A name (no path separator) is looked up in :func:`checkpoint_folders`. Raises
    FileNotFoundError saying where it looked and which models exist.
    """
    import os

    path = Path(spec)
    if path.is_dir():
        return path
    text = str(spec)
    if os.sep in text or (os.altsep and os.altsep in text) or path.exists():
        raise FileNotFoundError(f"no model folder {path} (a checkpoint folder holds config.json + model.safetensors)")
    candidates = [folder / text for folder in checkpoint_folders()]
    for candidate in candidates:
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates) or "(no checkpoints folder found)"
    raise FileNotFoundError(f"no model named {text!r}: looked in {looked}; shipped models: "
                            f"{', '.join(shipped_models()) or 'none'}; or give a checkpoint folder or baseline:NAME")


def load_model(spec: str | Path) -> nn.Module:
    """The one model loader: ``baseline:NAME`` (:data:`tinct.baselines.BASELINES`), a shipped
    model's name or a checkpoint folder -> the method, in eval mode, loaded with the class its
    ``config.json`` names. Raises FileNotFoundError or ValueError with a readable reason."""
    from safetensors import SafetensorError

    from tinct.methods import METHODS

    text = str(spec)
    if text.startswith("baseline:"):
        from tinct.baselines import BASELINES

        name = text.split(":", 1)[1]
        if name not in BASELINES:
            raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(sorted(BASELINES))}")
        return BASELINES[name]().eval()
    folder = find_model(spec)
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise FileNotFoundError(f"{folder} holds no {CONFIG_FILE}: not a tinct checkpoint folder")
    try:
        values = json.loads(config_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{config_path}: unreadable ({error})") from None
    method = values.get("method") if isinstance(values, dict) else None
    if method not in METHODS:
        raise ValueError(f"{config_path}: unknown method {method!r}; known methods: {', '.join(sorted(METHODS))}")
    try:
        return METHODS[method].from_pretrained(folder)
    except (SafetensorError, RuntimeError, TypeError) as error:  # corrupt file, weights of another shape
        raise ValueError(f"{folder}: cannot load the {method} checkpoint ({error})") from None
