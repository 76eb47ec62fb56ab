"""``--data`` for ``tinct evaluate`` and ``tinct train``: one grammar, one resolver.

- ``openmoji`` or ``openmoji:SPLIT`` — the built-in OpenMoji set (true line art);
- ``NAME`` or ``NAME:SPLIT`` — a source prepared with ``tinct data prepare NAME``
  (:data:`tinct.data.sources.SOURCES`: twemoji, iconpark, freehand, ...);
- ``FOLDER`` — a folder with ``color/`` and ``sketch/`` subfolders of matching file stems:
  the given line art (:class:`tinct.data.paired.PairedFolderDataset`); any other folder: its
  colour images, with line art extracted by :func:`tinct.lines.extract_lines`;
- ``sbs:FOLDER`` — side-by-side pair images, colour on the left half, sketch on the right
  (:class:`tinct.data.paired.SideBySideDataset`);
- ``A+B+...`` — a mix; ``A*3+B`` weights the members (how often each is drawn in training).

A named source wins over a folder of the same name: write ``./openmoji`` for the folder.
Folders have no splits: the whole folder serves every split. Every dataset gives dict
samples with ``color`` (3, S, S), ``sketch`` (1, S, S) (1 = paper) and ``regions`` (S, S).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["open_dataset", "split_of"]


def split_of(spec: str, default: str) -> str:
    """The split a single-source spec names (``openmoji:val`` -> ``val``), else ``default``."""
    if spec.startswith("sbs:") or "+" in spec:
        return default
    return spec.partition(":")[2] or default


def open_dataset(spec: str, *, split: str, size: int, limit: int | None = None, sketch: str = "line",
                 transform=None):
    """The dataset ``spec`` names (module docstring), its ``split`` unless the spec names one,
    at ``size`` px, at most ``limit`` samples (per member of a mix), samples mapped by
    ``transform``. ``sketch``: ``"line"`` (true line art where the source has it) or ``"xdog"``.
    Raises FileNotFoundError / ValueError naming the spec."""
    spec = spec.strip()
    if not spec:
        raise ValueError("--data is empty: give openmoji, a prepared source, a folder or sbs:FOLDER")
    if "+" in spec:
        from tinct.data.mixed import MixedDataset

        members, weights = [], []
        for part in spec.split("+"):
            name, star, weight = part.partition("*")
            try:
                weights.append(float(weight) if star else 1.0)
            except ValueError:
                raise ValueError(f"--data {spec}: a weight is a number, as in openmoji*2+twemoji, got {part!r}") from None
            members.append(open_dataset(name, split=split, size=size, limit=limit, sketch=sketch, transform=transform))
        return MixedDataset(members, weights)
    if spec.startswith("sbs:"):
        from tinct.data.paired import SideBySideDataset

        return SideBySideDataset(spec[4:], size=size, transform=transform, limit=limit)
    name, _, named_split = spec.partition(":")
    split = named_split or split
    if name == "openmoji":
        from tinct.data.openmoji import OpenMojiDataset

        return OpenMojiDataset(split, size=size, sketch=sketch, transform=transform, limit=limit)
    from tinct.data.sources import SOURCES, open_source

    if name in SOURCES:
        return open_source(name, split, size=size, sketch=sketch, transform=transform, limit=limit)
    folder = Path(spec)
    if folder.is_dir():
        if (folder / "color").is_dir() and (folder / "sketch").is_dir():
            from tinct.data.paired import PairedFolderDataset

            return PairedFolderDataset(folder, size=size, transform=transform, limit=limit)
        from tinct.data.folder import FolderDataset

        return FolderDataset(folder, size=size, transform=transform, limit=limit)
    raise FileNotFoundError(f"--data {spec!r} is not openmoji, a source ({', '.join(sorted(SOURCES))}), "
                            f"sbs:FOLDER or a folder")
