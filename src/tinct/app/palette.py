"""The app's palette: a list of ``#rrggbb`` colours, saved to and loaded from a small JSON file
(``{"version": 1, "colors": ["#rrggbb", ...]}``). Colours are read by
:func:`tinct.color.normalize_color`, the one colour parser."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from tinct.color import normalize_color

__all__ = ["DEFAULT_PALETTE", "MAX_PALETTE", "load_palette", "palette_add", "palette_html", "palette_remove", "save_palette"]

MAX_PALETTE = 256
DEFAULT_PALETTE = ("#f2c641", "#e05a47", "#3a7bd5", "#6ab04c", "#f5d0b0", "#6b4226", "#9b59b6", "#ffffff")


def palette_add(palette: Sequence[str], color: str) -> list[str]:
    """The palette with ``color`` appended (normalised); a colour already there is not repeated."""
    color = normalize_color(color)
    colors = [normalize_color(c) for c in palette]
    if color in colors:
        return colors
    if len(colors) >= MAX_PALETTE:
        raise ValueError(f"the palette is full ({MAX_PALETTE} colours)")
    return colors + [color]


def palette_remove(palette: Sequence[str], color: str) -> list[str]:
    """The palette without ``color`` (normalised; one not there changes nothing). The last colour
    stays: a palette holds at least one."""
    color = normalize_color(color)
    colors = [normalize_color(c) for c in palette]
    if color not in colors:
        return colors
    if len(colors) == 1:
        raise ValueError("the palette keeps at least one colour")
    return [c for c in colors if c != color]


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
