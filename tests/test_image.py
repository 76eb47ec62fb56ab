import numpy as np
import pytest
import torch
from PIL import Image

from tinct.image import (
    ImageError,
    fit_square,
    from_numpy_image,
    image_size,
    list_images,
    load_image,
    load_sketch,
    resize,
    save_image,
    square_box,
    to_numpy_image,
)


def _rgb_array(height=6, width=10):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".webp", ".tif", ".bmp"])
def test_lossless_round_trip(tmp_path, suffix):
    array = _rgb_array()
    path = tmp_path / f"a{suffix}"
    Image.fromarray(array).save(path, **({"lossless": True} if suffix == ".webp" else {}))
    image = load_image(path)
    assert image.shape == (3, 6, 10) and image.dtype == torch.float32
    assert np.array_equal(to_numpy_image(image), array)


def test_jpeg_loads_close(tmp_path):
    array = np.full((8, 12, 3), (200, 40, 90), np.uint8)
    Image.fromarray(array).save(tmp_path / "a.jpg", quality=95)
    image = load_image(tmp_path / "a.jpg")
    assert image.shape == (3, 8, 12)
    assert np.abs(to_numpy_image(image).astype(int) - array).max() <= 4


def test_rgba_composited_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255  # red
    rgba[0, 0, 3] = 255  # opaque red
    rgba[0, 1, 3] = 0  # transparent -> white
    rgba[0, 2, 3] = 128  # half -> pink
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    image = load_image(tmp_path / "a.png")
    assert torch.allclose(image[:, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    assert torch.allclose(image[:, 0, 1], torch.ones(3))
    assert torch.allclose(image[:, 0, 2], torch.tensor([1.0, 127 / 255, 127 / 255]), atol=1e-3)


def test_palette_with_transparency(tmp_path):
    image = Image.new("P", (3, 2))
    image.putpalette([0, 0, 255] + [255, 0, 0] + [0] * 762)
    image.putpixel((0, 0), 1)
    image.info["transparency"] = 0
    image.save(tmp_path / "p.png", transparency=0)
    loaded = load_image(tmp_path / "p.png")
    assert torch.allclose(loaded[:, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    assert torch.allclose(loaded[:, 1, 1], torch.ones(3))  # transparent index -> white


def test_16_bit_grayscale_keeps_precision(tmp_path):
    array = np.array([[0, 257, 65535], [32768, 1000, 60000]], np.uint16)
    Image.fromarray(array).save(tmp_path / "g16.png")
    image = load_image(tmp_path / "g16.png")
    assert image.shape == (3, 2, 3)
    assert torch.allclose(image[0], torch.from_numpy(array / 65535.0).float(), atol=1e-6)
    assert torch.equal(image[0], image[1])


def test_grayscale_and_sketch(tmp_path):
    array = np.array([[0, 255], [128, 255]], np.uint8)
    Image.fromarray(array, "L").save(tmp_path / "g.png")
    sketch = load_sketch(tmp_path / "g.png")
    assert sketch.shape == (1, 2, 2)
    assert sketch[0, 0, 0] == 0 and sketch[0, 0, 1] == 1
    assert abs(float(sketch[0, 1, 0]) - 128 / 255) < 1e-3


def test_exif_rotation_applied(tmp_path):
    array = np.zeros((2, 4, 3), np.uint8)
    array[0, 0] = 255  # white at top-left
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    image.save(tmp_path / "r.jpg", exif=exif, quality=100)
    loaded = load_image(tmp_path / "r.jpg")
    assert loaded.shape == (3, 4, 2)  # displayed upright: portrait
    assert loaded[:, 0, 1].mean() > 0.8  # top-left moved to top-right


def test_large_image_limits(tmp_path, monkeypatch):
    # Pillow's own bomb limit is lifted up to tinct's MAX_PIXELS; above that, a clear error.
    Image.new("L", (120, 100), 255).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # stands in for Pillow's 179 MP
    assert load_image(tmp_path / "big.png").shape == (3, 100, 120)
    monkeypatch.setattr("tinct.image.MAX_PIXELS", 5000)
    with pytest.raises(ImageError, match="big.png: image too large"):
        load_image(tmp_path / "big.png")


@pytest.mark.parametrize(
    "content, match",
    [(b"", "not a readable image"), (b"hello, not an image", "not a readable image"), (None, "corrupt")],
)
def test_bad_files_raise_clear_error(tmp_path, content, match):
    path = tmp_path / "bad.png"
    if content is None:  # a truncated PNG
        Image.fromarray(_rgb_array(64, 64)).save(path)
        path.write_bytes(path.read_bytes()[:200])
    else:
        path.write_bytes(content)
    with pytest.raises(ImageError, match=match) as info:
        load_image(path)
    assert "bad.png" in str(info.value)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="nope.png"):
        load_image("nope.png")


def test_save_round_trip_and_unknown_format(tmp_path):
    image = from_numpy_image(_rgb_array())
    save_image(image, tmp_path / "sub" / "out.png")
    assert torch.equal(load_image(tmp_path / "sub" / "out.png"), image)
    with pytest.raises(ImageError, match="unsupported output format"):
        save_image(image, tmp_path / "out.xyz")
    assert not list((tmp_path / "sub").glob(".*tmp*"))


def test_list_images_recursive_sorted(tmp_path):
    for name in ["b.png", "a.jpg", "sub/c.webp", "notes.txt"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)] == ["a.jpg", "b.png", "sub/c.webp"]


def test_fit_square_never_stretches():
    image = torch.rand(3, 20, 40)
    square = fit_square(image, 32)
    assert square.shape == (3, 32, 32)
    top, left, h, w = square_box(20, 40, 32)
    assert (top, left, h, w) == (8, 0, 16, 32)
    assert torch.allclose(square[:, top : top + h, left : left + w], resize(image, (16, 32)))
    # mirror padding: the row above the picture mirrors the picture's second row
    assert torch.allclose(square[:, top - 1], square[:, top + 1])


def test_resize_labels_stay_integer():
    labels = torch.tensor([[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    small = resize(labels, (2, 2), labels=True)
    assert small.dtype == labels.dtype and small.tolist() == [[1, 2], [3, 4]]
    big = resize(labels, (8, 8), labels=True)
    assert set(big.unique().tolist()) == {1, 2, 3, 4}


def test_to_numpy_image_rejects_bad_shape():
    with pytest.raises(ValueError, match=r"\(2, 4, 4\)"):
        to_numpy_image(torch.zeros(2, 4, 4))


def _png(width, height, rows, *, interlaced=False):
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, int(interlaced))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_short_data_nan_and_over_budget_images_are_refused_before_use(tmp_path, monkeypatch):
    (tmp_path / "short.png").write_bytes(_png(32, 32, b"\x00" + b"\xc8" * 96))  # only the first row's data
    with pytest.raises(ImageError, match="short.png: truncated image: its pixel data ends before the last row"):
        load_image(tmp_path / "short.png")
    nan = np.full((8, 8), 0.5, np.float32)
    nan[2, 2] = np.nan
    Image.fromarray(nan, mode="F").save(tmp_path / "nan.tif")
    with pytest.raises(ImageError, match="nan.tif: holds non-finite values"):
        load_image(tmp_path / "nan.tif")
    # a 100-byte file declaring 20000 x 20000 px: refused from its header, never decoded
    (tmp_path / "bomb.png").write_bytes(_png(20000, 20000, b"\x00" * 16))
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self) or None)
    with pytest.raises(ImageError, match=r"bomb.png: image too large: 20000 x 20000 px = 400 MP, over the budget "
                                         r"of 100 MP"):
        load_image(tmp_path / "bomb.png")
    assert decoded == [] and image_size(tmp_path / "bomb.png") == (20000, 20000)
    monkeypatch.undo()
    # the budget is settable per call; an interlaced (Adam7) PNG with all its data loads
    rows = _adam7_rows(np.arange(37 * 53 * 3, dtype=np.uint8).reshape(37, 53, 3))
    (tmp_path / "adam7.png").write_bytes(_png(53, 37, rows, interlaced=True))
    assert load_image(tmp_path / "adam7.png").shape == (3, 37, 53)
    with pytest.raises(ImageError, match="over the budget of 0.001 MP"):
        load_image(tmp_path / "adam7.png", max_pixels=1000)
    with pytest.raises(ImageError, match="adam7.png: (corrupt or )?truncated image"):
        (tmp_path / "adam7.png").write_bytes(_png(53, 37, rows[:-100], interlaced=True))
        load_image(tmp_path / "adam7.png")


def _adam7_rows(pixels):
    """Filtered scanlines (filter 0) of an Adam7-interlaced 8-bit RGB image."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    return b"".join(b"\x00" + row.tobytes() for x0, y0, dx, dy in passes for row in pixels[y0::dy, x0::dx]
                    if row.size)
