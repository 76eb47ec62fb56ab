"""Photoshop output (tinct.psd): a real colorization written, read back with psd-tools, and
every layer checked against the result, plus the CLI's -o page.psd and --layers."""

from pathlib import Path

import numpy as np
import pytest
import torch
from colorize_helpers import drawn_sketch, tiny_guiding_painter
from PIL import Image
from psd_tools import PSDImage

from tinct.cli import main
from tinct.colorizer import Colorizer
from tinct.psd import color_layers, write_psd

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "checkpoints" / "guiding_painter"
EXAMPLE = REPO / "examples" / "sunflower_sketch.png"


def _u8(tensor: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] -> uint8 (H, W, C), rounded as tinct writes files."""
    return (tensor.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of a mask's True pixels, as psd-tools' Layer.bbox."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _canvas(layer, height: int, width: int) -> np.ndarray:
    """A layer's RGBA pixels put at its offset on a transparent (H, W, 4) canvas."""
    canvas = np.zeros((height, width, 4), np.uint8)
    image = layer.topil()
    if image is not None:
        assert image.mode == "RGBA"
        canvas[layer.top : layer.bottom, layer.left : layer.right] = np.asarray(image)
    return canvas


def _assert_composite(psd: PSDImage, final: np.ndarray) -> None:
    """The stored merged image and psd-tools' own composite of the visible layers are the
    final image within 1/255 (colour where not fully transparent, alpha everywhere)."""
    seen = final[..., 3] > 0
    for image in (psd.topil(), psd.composite(ignore_preview=True)):
        assert image.mode == "RGBA" and image.size == (final.shape[1], final.shape[0])
        pixels = np.asarray(image).astype(int)
        assert np.abs(pixels[..., 3] - final[..., 3]).max() <= 1
        assert np.abs(pixels[..., :3] - final[..., :3])[seen].max() <= 1


@pytest.fixture(scope="module")
def result():
    if not (SHIPPED / "model.safetensors").is_file():
        pytest.skip("no shipped model: checkpoints/guiding_painter is not trained/committed yet")
    return Colorizer.from_pretrained("guiding_painter").colorize(EXAMPLE)


@pytest.mark.parametrize("transparent", [False, True])
def test_layers_are_the_result(result, tmp_path, transparent):
    path = result.save(tmp_path / "sunflower.psd", transparent=transparent)
    psd = PSDImage.open(path)
    height, width = result.ink.shape
    assert (psd.width, psd.height, psd.depth) == (width, height, 8)
    assert [layer.name for layer in psd] == ["colorized", "flat colours", "lines"]  # bottom to top
    assert [layer.visible for layer in psd] == [False, True, True]
    assert all(layer.kind == "pixel" and layer.opacity == 255 and layer.blend_mode.name == "NORMAL"
               and not layer.has_mask() for layer in psd)
    colorized, flats, lines = psd

    final = result.rgba(transparent=transparent)
    assert colorized.bbox == _box(final[..., 3] > 0)
    assert np.array_equal(_canvas(colorized, height, width), final)

    # the flat colours: result.flat where opaque; opaque everywhere but the cleared background
    flat_area = ~result.background if transparent else np.ones((height, width), bool)
    assert flats.bbox == (_box(flat_area) if transparent else (0, 0, width, height))
    flat_pixels = _canvas(flats, height, width)
    assert np.array_equal(flat_pixels[..., 3] == 255, flat_area) and not flat_pixels[~flat_area, 3].any()
    assert np.array_equal(flat_pixels[flat_area, :3], _u8(result.flat)[flat_area])

    # the lines: opaque exactly on the ink, in the sketch's own colours; the lighter line
    # pixels black with alpha = darkness; nothing elsewhere
    sketch = np.asarray(Image.open(EXAMPLE).convert("RGB"))
    darkness = _u8(1.0 - result.sketch)[..., 0]
    line_pixels = _canvas(lines, height, width)
    assert lines.bbox == _box(line_pixels[..., 3] > 0) == _box((darkness > 0) | result.ink)
    assert result.ink.sum() > 1000 and np.array_equal(line_pixels[..., 3] == 255, result.ink)
    assert np.array_equal(line_pixels[result.ink, :3], sketch[result.ink])
    assert np.array_equal(line_pixels[~result.ink, 3], darkness[~result.ink])
    assert not line_pixels[~result.ink, :3].any()

    _assert_composite(psd, final)


@pytest.mark.parametrize("transparent", [False, True])
def test_one_layer_per_flat_colour(result, tmp_path, transparent):
    path = result.save(tmp_path / "sunflower.psd", transparent=transparent, layers="per-color")
    psd = PSDImage.open(path)
    height, width = result.ink.shape
    names = [layer.name for layer in psd]
    assert names[0] == "colorized" and names[-1] == "lines"
    flat = _u8(result.flat)
    flat_area = ~result.background if transparent else np.ones((height, width), bool)
    colors = np.unique(flat[flat_area], axis=0)
    colour_layers = list(psd)[1:-1]
    assert 1 < len(colors) == len(colour_layers)
    assert sorted(names[1:-1]) == sorted("flat #" + bytes(color).hex() for color in colors)
    assert transparent != ("flat #ffffff" in names)  # the paper is a flat colour unless cleared

    covered = np.zeros((height, width), int)
    areas = []
    for layer in colour_layers:
        pixels = _canvas(layer, height, width)
        opaque = pixels[..., 3] == 255
        assert not pixels[~opaque, 3].any() and layer.bbox == _box(opaque)
        color = np.frombuffer(bytes.fromhex(layer.name.removeprefix("flat #")), np.uint8)
        assert (pixels[opaque, :3] == color).all()
        assert np.array_equal(opaque, flat_area & (flat == color).all(axis=2))
        covered += opaque
        areas.append(int(opaque.sum()))
    assert np.array_equal(covered, flat_area.astype(int))  # the flat area, each pixel exactly once
    assert areas == sorted(areas, reverse=True)  # the largest area lowest
    _assert_composite(psd, result.rgba(transparent=transparent))


def test_bad_layer_requests_write_nothing(result, tmp_path):
    with pytest.raises(ValueError, match=r"hold \d+ distinct colours, more than 3: too many for one layer per colour"):
        write_psd(tmp_path / "few.psd", result, per_color=True, max_colors=3)
    with pytest.raises(ValueError, match=r"layers='per-color'\) needs a \.psd file"):
        result.save(tmp_path / "a.ora", layers="per-color")
    with pytest.raises(ValueError, match=r"layers='per-color'\) needs a \.psd file"):
        result.save(tmp_path / "a.png", layers="per-color")
    with pytest.raises(ValueError, match="layers must be one of 'single', 'per-color', got 'many'"):
        result.save(tmp_path / "a.psd", layers="many")
    assert not list(tmp_path.iterdir())


def test_color_layers_split_and_cap():
    flats = np.zeros((4, 6, 4), np.uint8)
    flats[:, :3] = (255, 0, 0, 255)
    flats[1:3, 4] = (0, 16, 255, 255)  # the rest stays transparent
    layers = list(color_layers(flats))
    assert [(name, top, left, pixels.shape) for name, pixels, top, left in layers] == [
        ("#ff0000", 0, 0, (4, 3, 4)), ("#0010ff", 1, 4, (2, 1, 4))]
    many = np.zeros((1, 300, 4), np.uint8)
    many[0, :, 0], many[0, :, 1], many[0, :, 3] = np.arange(300) % 256, np.arange(300) // 256, 255
    with pytest.raises(ValueError, match="300 distinct colours, more than 256"):
        color_layers(many)  # at once, before any layer is made
    with pytest.raises(ValueError, match=r"uint8 \(H, W, 4\)"):
        color_layers(flats[..., :3])


def test_cli_writes_psd_and_checks_layers(tmp_path, cli):
    model = str(tiny_guiding_painter().save_pretrained(tmp_path / "gp"))
    sketch, _ = drawn_sketch(48, 64)
    Image.fromarray(sketch).save(tmp_path / "a.png")
    out = tmp_path / "out.psd"
    out.write_bytes(b"an older file")  # replaced, as any output is
    assert main(["colorize", str(tmp_path / "a.png"), "-o", str(out), "--layers", "per-color",
                 "--model", model, "--size", "32"]) == 0
    psd = PSDImage.open(out)
    names = [layer.name for layer in psd]
    assert (psd.width, psd.height) == (64, 48) and names[0] == "colorized" and names[-1] == "lines"
    assert len(names) > 3 and all(name.startswith("flat #") for name in names[1:-1])
    assert not list(tmp_path.glob(".*tmp*"))

    assert main(["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "folder"), "--format", "psd",
                 "--transparent", "--model", model, "--size", "32"]) == 0
    assert [layer.name for layer in PSDImage.open(tmp_path / "folder" / "a.psd")] == [
        "colorized", "flat colours", "lines"]

    def fails(output, *args, match):
        cli.fails(["colorize", tmp_path / "a.png", "-o", output, *args, "--model", model, "--size", "32"], match)

    fails(tmp_path / "b.png", "--layers", "per-color",
          match=r"--layers per-color: only layered files \(\.ora, \.psd\) have layers, and the output is \.png")
    fails(tmp_path / "c", "--layers", "single", match=r"--layers single: only layered files .* output is \.png")
    fails(tmp_path / "b.ora", "--layers", "per-color", match=r"--layers per-color: .* \.psd files only")
    fails(tmp_path / "b.psd", "--format", "ora", match="--format ora contradicts")
    assert not (tmp_path / "b.png").exists() and not (tmp_path / "b.ora").exists()

    with pytest.raises(SystemExit):
        main(["colorize", "--help"])
    help_text = cli.capsys.readouterr().out
    assert "--layers {single,per-color}" in help_text and ".psd" in help_text
