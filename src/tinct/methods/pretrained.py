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

