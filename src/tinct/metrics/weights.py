"""Finding and loading pretrained weight files for the metrics, and reporting when they are missing.

FID and LPIPS need published network weights that cannot be downloaded at run time.
They are looked up on disk by their standard file name:

1. an explicit path given by the caller — a file (used as is, whatever its name) or a
   folder (the standard file name inside it). When an explicit path is given, nothing
   else is searched: a typo must not silently pick up another file;
2. otherwise ``$TINCT_WEIGHTS_DIR`` when it is set, then ``$TINCT_CACHE_DIR/weights``
   (``~/.cache/tinct/weights`` when ``TINCT_CACHE_DIR`` is not set).

In each folder the standard name is tried first, then the same stem with
``.safetensors`` (a converted copy). Files are read with
``torch.load(path, map_location="cpu", weights_only=True)`` — which refuses pickled
code — or with safetensors.

A missing file raises :class:`WeightsUnavailable`, whose ``reason`` names the file, every
place searched and how to provide it. A file that is there but cannot be read or does
not fit the network (missing/unexpected keys, wrong shapes) raises :class:`WeightsError`.
Metrics never fall back to random weights: the scoring functions return a
:class:`MetricResult` with ``value=None`` and the reason instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

WEIGHTS_DIR_ENV = "TINCT_WEIGHTS_DIR"
CACHE_DIR_ENV = "TINCT_CACHE_DIR"


@dataclass(frozen=True)
class WeightsFile:
    """A published weight file: its standard ``name``, what it is, and where it is published."""

    name: str
    description: str
    source: str


@dataclass(frozen=True)
class MetricResult:
    """The outcome of a metric that may be unavailable.

    ``value`` is the score, or ``None`` when the metric could not be computed; ``reason``
    then says why (and how to fix it). ``bool(result)`` is ``result.available``.
    """

    name: str
    value: float | None
    reason: str | None = None

    def __post_init__(self) -> None:
        if (self.value is None) == (self.reason is None):
            raise ValueError("a MetricResult has either a value or a reason, not both or neither")

    @property
    def available(self) -> bool:
        return self.value is not None

    def __bool__(self) -> bool:
        return self.available

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.name}: unavailable ({self.reason})"
        return f"{self.name}: {self.value:.4f}"

    def as_dict(self) -> dict[str, float | str | None]:
        """``{"name", "value", "reason"}`` for JSON reports."""
        return {"name": self.name, "value": self.value, "reason": self.reason}

    @classmethod
    def unavailable(cls, name: str, reason: str) -> MetricResult:
        return cls(name=name, value=None, reason=reason)


class WeightsUnavailable(FileNotFoundError):
    """A weight file was not found.

    ``reason`` is a one-paragraph explanation for people (the file, every place searched,
    where to get it and where to put it); ``searched`` lists the exact paths tried.
    """

    def __init__(self, file: WeightsFile, searched: list[Path]):
        self.file = file
        self.searched = searched
        folders = list(dict.fromkeys(str(p.parent) for p in searched))
        if len(searched) == 1:
            where = f"at {searched[0]}"
        else:
            where = "in " + ", ".join(folders) + " (also as .safetensors)"
        self.reason = (
            f"{file.description} '{file.name}' not found {where}. Get it from {file.source} "
            f"and put it in ${WEIGHTS_DIR_ENV} or {default_weights_dir()}, or pass its path."
        )
        super().__init__(self.reason)


class WeightsError(ValueError):
    """A weight file exists but cannot be read or does not match the network."""


def default_weights_dir() -> Path:
    """``$TINCT_CACHE_DIR/weights``, or ``~/.cache/tinct/weights``."""
    cache = os.environ.get(CACHE_DIR_ENV)
    root = Path(cache).expanduser() if cache else Path.home() / ".cache" / "tinct"
    return root / "weights"


def search_dirs() -> list[Path]:
    """Folders searched when no explicit path is given, in order."""
    dirs = []
    env = os.environ.get(WEIGHTS_DIR_ENV)
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(default_weights_dir())
    return dirs


def _candidates(folder: Path, name: str) -> list[Path]:
    return [folder / name, folder / f"{Path(name).stem}.safetensors"]


def find_weights(file: WeightsFile, path: str | os.PathLike | None = None) -> Path:
    """Locate ``file``: ``path`` (a file or a folder) if given, else the search folders.

    Raises:
        WeightsUnavailable: nothing found; its ``reason`` lists every place searched.
    """
    if path is not None:
        path = Path(path).expanduser()
        if path.is_file():
            return path
        searched = _candidates(path, file.name) if path.is_dir() else [path]
    else:
        searched = [c for folder in search_dirs() for c in _candidates(folder, file.name)]
    for candidate in searched:
        if candidate.is_file():
            return candidate
    raise WeightsUnavailable(file, searched)


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or a torch file, without unpickling code."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # corrupt file, or pickled objects weights_only refuses
        raise WeightsError(f"cannot read weights from {path}: {error}") from error
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise WeightsError(f"{path} does not hold a state dict of named tensors")
    return dict(state)


def _summary(keys: Iterable[str], limit: int = 5) -> str:
    keys = sorted(keys)
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def load_into(
    module: nn.Module,
    state: Mapping[str, torch.Tensor],
    *,
    source: str,
    ignore_prefixes: tuple[str, ...] = (),
) -> None:
    """Load ``state`` into ``module`` strictly, with a clear error on any mismatch.

    Keys starting with one of ``ignore_prefixes`` (e.g. a classifier the metric does not
    use) are dropped first. BatchNorm ``num_batches_tracked`` counters missing from older
    files are kept at the module's value; every other key must match in name and shape.

    Raises:
        WeightsError: naming ``source`` and the missing, unexpected or mis-shaped keys.
    """
    state = {k: v for k, v in state.items() if not k.startswith(ignore_prefixes)}
    expected = module.state_dict()
    for key, value in expected.items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = value
    missing = expected.keys() - state.keys()
    unexpected = state.keys() - expected.keys()
    mis_shaped = [
        f"{k} {tuple(state[k].shape)} != {tuple(expected[k].shape)}"
        for k in expected.keys() & state.keys()
        if state[k].shape != expected[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {_summary(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_summary(unexpected)}")
    if mis_shaped:
        problems.append(f"wrong shapes: {_summary(mis_shaped)}")
    if problems:
        raise WeightsError(f"{source} does not fit {type(module).__name__}: " + "; ".join(problems))
    module.load_state_dict(state, strict=True)


def load_weights(
    module: nn.Module,
    file: WeightsFile,
    path: str | os.PathLike | None = None,
    *,
    ignore_prefixes: tuple[str, ...] = (),
) -> Path:
    """Find ``file`` (see :func:`find_weights`), read it and load it into ``module``.

    Returns the path loaded. Raises :class:`WeightsUnavailable` or :class:`WeightsError`.
    """
    found = find_weights(file, path)
    load_into(module, read_state_dict(found), source=str(found), ignore_prefixes=ignore_prefixes)
    return found
