"""Datasets beyond OpenMoji, fetched on demand (``tinct data prepare NAME``). Registry only
for now: the sources land with their modules."""

from __future__ import annotations

SOURCES: dict = {}


def open_source(name: str, split: str, *, size: int, sketch: str = "line", transform=None, limit: int | None = None):
    raise ValueError(f"unknown source {name!r}")
