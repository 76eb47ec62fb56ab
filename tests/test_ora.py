import io
import zipfile
from xml.etree import ElementTree

import numpy as np
import pytest
from PIL import Image

from tinct.ora import Layer, read_ora, write_ora


def _layers(height=20, width=30):
    rng = np.random.default_rng(0)
    lines = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    flat = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)  # RGB: stored opaque
    final = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    return [Layer("lines", lines), Layer("flat colours", flat), Layer("colorized", final, visible=False)], final


def test_archive_layout(tmp_path):
    layers, final = _layers()
    path = write_ora(tmp_path / "a.ora", layers, merged=final)
    raw = path.read_bytes()
    # mimetype first, stored: readers sniff "mimetypeimage/openraster" at byte 30
    assert raw[30:38] == b"mimetype" and raw[38:54] == b"image/openraster"
    with zipfile.ZipFile(path) as archive:
        first = archive.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert archive.read("mimetype") == b"image/openraster"
        root = ElementTree.fromstring(archive.read("stack.xml"))
        assert root.tag == "image" and (root.get("w"), root.get("h")) == ("30", "20")
        elements = list(root.find("stack"))
        assert [e.get("name") for e in elements] == ["lines", "flat colours", "colorized"]
        assert [e.get("visibility") for e in elements] == ["visible", "visible", "hidden"]
        names = set(archive.namelist())
        assert {"stack.xml", "mergedimage.png", "Thumbnail/thumbnail.png"} <= names
        for element, layer in zip(elements, layers):
            assert element.get("src") in names and element.get("src").startswith("data/")
            image = Image.open(io.BytesIO(archive.read(element.get("src"))))
            assert image.size == (30, 20) and image.mode == "RGBA"
            expected = layer.pixels if layer.pixels.shape[2] == 4 else np.dstack(
                [layer.pixels, np.full((20, 30), 255, np.uint8)])
            assert np.array_equal(np.asarray(image), expected)
        merged = np.asarray(Image.open(io.BytesIO(archive.read("mergedimage.png"))))
        assert np.array_equal(merged, final)
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind


def test_round_trip_and_thumbnail(tmp_path):
    big = np.zeros((300, 600, 4), np.uint8)
    big[..., 0], big[..., 3] = 200, 255
    path = write_ora(tmp_path / "big.ora", [Layer("a", big), Layer("a", big, opacity=0.5)])
    image = read_ora(path)
    assert (image.width, image.height) == (600, 300)
    assert [layer.name for layer in image.layers] == ["a", "a"]
    assert image.layers[1].opacity == pytest.approx(0.5)
    assert np.array_equal(image.layers[0].pixels, big) and np.array_equal(image.merged, big)
    with zipfile.ZipFile(path) as archive:
        sources = [e.get("src") for e in ElementTree.fromstring(archive.read("stack.xml")).iter("layer")]
        assert len(set(sources)) == 2  # two layers of one name get two files
        thumbnail = Image.open(io.BytesIO(archive.read("Thumbnail/thumbnail.png")))
        assert thumbnail.size == (256, 128)


def test_bad_input(tmp_path):
    layers, final = _layers()
    with pytest.raises(ValueError, match="all layers must have one size"):
        write_ora(tmp_path / "x.ora", [layers[0], Layer("small", np.zeros((5, 5, 4), np.uint8))])
    with pytest.raises(ValueError, match="at least one layer"):
        write_ora(tmp_path / "x.ora", [])
    with pytest.raises(ValueError, match="uint8"):
        write_ora(tmp_path / "x.ora", [Layer("f", np.zeros((5, 5, 4), np.float32))])
    with pytest.raises(ValueError, match="merged image must be 30 x 20"):
        write_ora(tmp_path / "x.ora", layers, merged=final[:10])
    assert not (tmp_path / "x.ora").exists()
    (tmp_path / "fake.ora").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a zip archive"):
        read_ora(tmp_path / "fake.ora")
    with zipfile.ZipFile(tmp_path / "plain.zip", "w") as archive:
        archive.writestr("stack.xml", "<image/>")
    with pytest.raises(ValueError, match="mimetype"):
        read_ora(tmp_path / "plain.zip")
    with pytest.raises(FileNotFoundError):
        read_ora(tmp_path / "missing.ora")
