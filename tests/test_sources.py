"""Sources fetched on demand (twemoji, iconpark, freehand), offline: tiny fake npm tarballs in
each package's real layout, prepared into a temporary cache."""

import io
import json
import os
import re
import stat
import tarfile

import numpy as np
import pytest
import torch

from tinct.data import iconify, openmoji, sources, twemoji
from tinct.data.openmoji import _on_white, _render_rgba
from tinct.lines import ink_precision_recall

SIZE = 64
_SVG36 = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 36 36">{}</svg>'
TWEMOJI_SVGS = {
    # a face: disc, two eyes, a mouth
    "1f600": _SVG36.format('<circle cx="18" cy="18" r="18" fill="#FFCC4D"/>'
                           '<ellipse cx="12" cy="13.5" fill="#664500" rx="2.5" ry="3.5"/>'
                           '<ellipse cx="24" cy="13.5" fill="#664500" rx="2.5" ry="3.5"/>'
                           '<path fill="#664500" d="M9 22h18v5H9z"/>'),
    "1f44d": _SVG36.format('<path fill="#FFDC5D" d="M4 14h20v18H4z"/><path fill="#EF9645" d="M24 8h8v24h-8z"/>'),
    "1f44d-1f3fd": _SVG36.format('<path fill="#D4AB88" d="M4 14h20v18H4z"/><path fill="#B68A60" d="M24 8h8v24h-8z"/>'),
    # a red square entirely hidden under a green disc: its outline must not show
    "1f7e2": _SVG36.format('<rect x="14" y="14" width="6" height="6" fill="#f00"/>'
                           '<circle cx="18" cy="18" r="16" fill="#78B159"/>'),
}
ICONPARK_ICONS = {
    "two-boxes": '<g fill="none" stroke="#000" stroke-width="4"><rect width="18" height="40" x="4" y="4" '
                 'fill="#2F88FF"/><rect width="18" height="40" x="26" y="4" fill="#43CCF8"/></g>',
    "alert-one": '<g fill="none"><circle cx="24" cy="24" r="20" fill="#2F88FF" stroke="#000" stroke-width="4"/>'
                 '<path stroke="#fff" stroke-linecap="round" stroke-width="4" d="M24 12v14"/>'
                 '<circle cx="24" cy="33" r="2" fill="#fff"/></g>',
    "arrow-left": '<path fill="none" stroke="#000" stroke-width="4" d="M40 24H8m8-8l-8 8l8 8"/>',
    "arrow-right": '<path fill="none" stroke="#000" stroke-width="4" d="M8 24h32m-8-8l8 8l-8 8"/>',
}
FREEHAND_ICONS = {
    # a dark square frame (a filled ring) around a blue pen stroke
    "frame-note": '<g fill="none"><path fill="#020202" fill-rule="evenodd" d="M2 2h20v20H2zm2 2v16h16V4z"/>'
                  '<path fill="#0c6fff" d="M7 11h10v2H7z"/></g>',
    # a window: a dark frame with a bar across, two panes
    "window-pane": '<path fill="#020202" fill-rule="evenodd" d="M2 2h20v20H2zm2 2v7h16V4zm0 9v7h16v-7z"/>',
    "cup-1": '<path fill="#020202" fill-rule="evenodd" d="M4 4h2v14h12V4h2v16H4z"/>',
    "cup-2": '<path fill="#020202" d="M4 4h2v14h12V4h2v16H4z"/><path fill="#0c6fff" d="M8 8h8v1H8z"/>',
}


def _add(archive: tarfile.TarFile, name: str, data: str | bytes) -> None:
    payload = data.encode() if isinstance(data, str) else data
    member = tarfile.TarInfo(name)
    member.size = len(payload)
    archive.addfile(member, io.BytesIO(payload))


def make_tarball(path, package: str, version: str, files: dict[str, str], *, members=()) -> str:
    """An npm-style tarball: ``package/package.json`` + ``package/<files>`` + raw ``members``."""
    with tarfile.open(path, "w:gz") as archive:
        _add(archive, "package/package.json", json.dumps({"name": package, "version": version}))
        for name, text in files.items():
            _add(archive, f"package/{name}", text)
        for name, text in members:
            _add(archive, name, text)
    return str(path)


def _iconify_json(icons: dict[str, str], side: int) -> str:
    return json.dumps({"prefix": "x", "icons": {name: {"body": body} for name, body in icons.items()},
                       "width": side, "height": side})


def fake_tarball(name: str, folder) -> str:
    source = sources.SOURCES[name]
    path = folder / source.tarball_name
    if name == "twemoji":
        files = {f"{stem}.svg": svg for stem, svg in TWEMOJI_SVGS.items()}
        files.update({"license": "MIT License (fake)", "readme.md": "# fake", "index.js": "ignored"})
    else:
        icons = ICONPARK_ICONS if name == "iconpark" else FREEHAND_ICONS
        files = {"icons.json": _iconify_json(icons, 48 if name == "iconpark" else 24),
                 "info.json": "{}", "index.js": "ignored"}
    return make_tarball(path, source.package, source.version, files)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """All three sources prepared from fake tarballs into a cache of their own."""
    cache = tmp_path_factory.mktemp("cache")
    tarballs = tmp_path_factory.mktemp("tarballs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TINCT_CACHE_DIR", str(cache))
        for name in sources.SOURCES:
            sources.prepare(name, from_tarball=fake_tarball(name, tarballs))
        yield cache


def _all_splits(name: str, **options) -> list[dict]:
    """Every item of a prepared source: the three splits' samples."""
    samples = []
    for split in openmoji.SPLITS:
        dataset = sources.SOURCES[name].dataset(split, size=SIZE, **options)
        samples += [dataset[i] for i in range(len(dataset))]
    return samples


# ----------------------------------------------------------------------------- preparing


def test_prepare_extracts_what_is_needed_and_is_idempotent(prepared):
    folder = sources.source_folder("twemoji")
    assert folder == prepared / "sources" / "twemoji-15.0.0"
    assert sorted(p.name for p in (folder / "svg").iterdir()) == sorted(f"{s}.svg" for s in TWEMOJI_SVGS)
    assert not (folder / "index.js").exists() and (folder / "license").exists()
    marker = json.loads((folder / "ready.json").read_text())
    assert marker["package"] == "@twemoji/svg" and marker["version"] == "15.0.0" and marker["items"] == 4
    assert (sources.source_folder("iconpark") / "icons.json").exists()
    assert not (sources.source_folder("iconpark") / "index.js").exists()
    # prepared: nothing is read again (a tarball that does not exist is not even looked at)
    assert sources.prepare("twemoji", from_tarball="/nonexistent.tgz") == folder


def test_status_and_list_sources(prepared, tmp_path, monkeypatch):
    rows = {row["name"]: row for row in sources.list_sources()}
    assert set(rows) == {"twemoji", "iconpark", "freehand"}
    row = rows["iconpark"]
    assert row["ready"] and row["items"] == len(ICONPARK_ICONS) and row["bytes"] > 0
    assert row["licence"] == "Apache-2.0" and row["command"] == "tinct data prepare iconpark"
    assert "ByteDance" in row["credit"] and row["version"] == "1.2.4"
    monkeypatch.setenv("TINCT_CACHE_DIR", str(tmp_path))  # an empty cache: nothing prepared
    rows = {row["name"]: row for row in sources.list_sources()}
    assert not rows["twemoji"]["ready"] and rows["twemoji"]["bytes"] == 0
    assert rows["twemoji"]["items"] == 3720 and rows["freehand"]["items"] == 1000


def test_unprepared_and_unknown_sources_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("TINCT_CACHE_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="source twemoji is not prepared: run tinct data prepare twemoji"):
        sources.open_source("twemoji", "test", size=SIZE)
    with pytest.raises(ValueError, match="unknown source 'emoji'"):
        sources.open_source("emoji", "test", size=SIZE)
    with pytest.raises(ValueError, match="unknown source"):
        sources.prepare("emoji")


def test_path_traversal_members_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TINCT_CACHE_DIR", str(tmp_path / "cache"))
    source = sources.SOURCES["twemoji"]
    for evil in ("../evil.svg", "package/../../evil.svg", "/tmp/tinct-evil.svg"):
        tarball = make_tarball(tmp_path / "evil.tgz", source.package, source.version, {"1f600.svg": "<svg/>"},
                               members=[(evil, "<svg/>")])
        with pytest.raises(ValueError, match="unsafe member"):
            sources.prepare("twemoji", from_tarball=tarball)
    assert not (tmp_path / "evil.svg").exists() and not os.path.exists("/tmp/tinct-evil.svg")
    assert not sources.status("twemoji")["ready"]
    assert not any((tmp_path / "cache" / "sources").iterdir())  # no half-extracted folder is left


def test_a_wrong_tarball_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TINCT_CACHE_DIR", str(tmp_path / "cache"))
    wrong_version = make_tarball(tmp_path / "a.tgz", "@twemoji/svg", "14.1.2", {"1f600.svg": "<svg/>"})
    with pytest.raises(ValueError, match=r"is @twemoji/svg@14.1.2, not @twemoji/svg@15.0.0"):
        sources.prepare("twemoji", from_tarball=wrong_version)
    other_package = fake_tarball("iconpark", tmp_path)
    with pytest.raises(ValueError, match=r"is @iconify-json/icon-park@1.2.4, not @iconify-json/streamline"):
        sources.prepare("freehand", from_tarball=other_package)
    garbage = tmp_path / "garbage.tgz"
    garbage.write_bytes(b"this is not a tarball")
    with pytest.raises(ValueError, match="not a readable npm tarball"):
        sources.prepare("twemoji", from_tarball=garbage)
    no_svgs = make_tarball(tmp_path / "b.tgz", "@twemoji/svg", "15.0.0", {"readme.md": "#"})
    with pytest.raises(ValueError, match="no twemoji items"):
        sources.prepare("twemoji", from_tarball=no_svgs)
    with pytest.raises(FileNotFoundError, match="no tarball at"):
        sources.prepare("twemoji", from_tarball=tmp_path / "missing.tgz")
    assert not sources.status("twemoji")["ready"]


def test_missing_npm_gives_the_way_out(tmp_path, monkeypatch):
    monkeypatch.setenv("TINCT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(ValueError) as error:
        sources.prepare("iconpark")
    message = str(error.value)
    assert message.startswith("npm is not installed: install Node.js, or download iconify-json-icon-park-1.2.4.tgz")
    assert "tinct data prepare iconpark --from FILE" in message
    assert "https://registry.npmjs.org/@iconify-json/icon-park/-/icon-park-1.2.4.tgz" in message


def _fake_npm(folder, script: str) -> str:
    path = folder / "npm"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_npm_failures_are_one_line_and_npm_pack_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("TINCT_CACHE_DIR", str(tmp_path / "cache"))
    failing = _fake_npm(tmp_path, 'echo "npm error code E404" >&2\n'
                                  'echo "npm error 404 Not Found - GET https://registry.npmjs.org/x" >&2\nexit 1\n')
    monkeypatch.setattr("shutil.which", lambda name: failing)
    with pytest.raises(ValueError) as error:
        sources.prepare("twemoji")
    assert str(error.value) == "npm pack @twemoji/svg@15.0.0 failed: npm error 404 Not Found - GET https://registry.npmjs.org/x"
    # a working npm: it is asked for the pinned version and its tarball is extracted
    tarball = fake_tarball("twemoji", tmp_path)
    working = _fake_npm(tmp_path, f'[ "$1 $2" = "pack @twemoji/svg@15.0.0" ] || exit 3\ncp {tarball} .\n')
    monkeypatch.setattr("shutil.which", lambda name: working)
    folder = sources.prepare("twemoji")
    assert json.loads((folder / "ready.json").read_text())["from"] == "npm"
    assert sources.status("twemoji")["ready"]


# ----------------------------------------------------------------------------- splits


def test_splits_are_stable_and_cover_80_10_10():
    names = [f"icon-{i}-mark" for i in range(3000)]  # digits at the end would make one family
    first = {name: openmoji.split_of(iconify.family_of(name)) for name in names}
    second = {name: openmoji.split_of(iconify.family_of(name)) for name in names}
    assert first == second
    fractions = {split: sum(s == split for s in first.values()) / len(names) for split in openmoji.SPLITS}
    assert 0.77 < fractions["train"] < 0.83 and 0.08 < fractions["val"] < 0.12 and 0.08 < fractions["test"] < 0.12


def test_families_keep_variants_and_skin_tones_together():
    assert iconify.family_of("arrow-circle-left") == "arrow-circle"
    assert iconify.family_of("cursor-speed-2") == iconify.family_of("cursor-speed-1") == "cursor-speed"
    assert iconify.family_of("pie-two") == "pie" and iconify.family_of("one") == "one"
    assert twemoji.family_of("1f44d-1f3fd") == twemoji.family_of("1f44d") == "1F44D"
    # the same emoji is in the same split in Twemoji and in OpenMoji
    for name in ("1f600", "1f44d-1f3fd", "2764"):
        assert openmoji.split_of(twemoji.family_of(name)) == openmoji.split_of(name.upper())


def test_datasets_split_the_items_and_limit(prepared):
    splits = {split: sources.open_source("iconpark", split, size=SIZE).names for split in openmoji.SPLITS}
    assert sorted(name for names in splits.values() for name in names) == sorted(ICONPARK_ICONS)
    for split, names in splits.items():
        assert all(openmoji.split_of(iconify.family_of(name)) == split for name in names)
    assert len({openmoji.split_of(iconify.family_of(n)) for n in ("arrow-left", "arrow-right")}) == 1
    biggest = max(splits, key=lambda split: len(splits[split]))
    assert len(sources.open_source("iconpark", biggest, size=SIZE, limit=1)) == 1
    with pytest.raises(ValueError, match="unknown split"):
        sources.open_source("iconpark", "training", size=SIZE)


# ----------------------------------------------------------------------------- samples


def _check_sample(sample: dict) -> None:
    assert sample["color"].shape == (3, SIZE, SIZE) and sample["fills"].shape == (3, SIZE, SIZE)
    assert sample["sketch"].shape == (1, SIZE, SIZE) and sample["regions"].shape == (SIZE, SIZE)
    assert sample["regions"].dtype == torch.int64
    for key in ("color", "sketch", "fills"):
        assert sample[key].dtype == torch.float32 and 0 <= sample[key].min() and sample[key].max() <= 1
    assert isinstance(sample["name"], str) and isinstance(sample["family"], str)
    assert (sample["sketch"] < 0.5).any(), "the line art has ink"
    assert sample["color"][:, 0, 0].tolist() == [1.0, 1.0, 1.0], "the corner is paper"


@pytest.mark.parametrize("name", ["twemoji", "iconpark", "freehand"])
def test_samples_have_the_openmoji_keys_shapes_and_ranges(prepared, name):
    samples = _all_splits(name)
    assert len(samples) == {"twemoji": 4, "iconpark": 4, "freehand": 4}[name]
    for sample in samples:
        _check_sample(sample)
    assert max(int(s["regions"].max()) for s in samples) >= 3
    xdog = _all_splits(name, sketch="xdog")
    assert xdog[0]["sketch"].shape == (1, SIZE, SIZE) and not torch.equal(xdog[0]["sketch"], samples[0]["sketch"])


def test_twemoji_lines_are_the_fills_boundaries(prepared):
    for sample in _all_splits("twemoji"):
        fills = (sample["fills"] * 255).round().to(torch.int64)
        code = (fills[0] << 16) | (fills[1] << 8) | fills[2]
        edges = torch.zeros(code.shape, dtype=torch.bool)
        edges[:, 1:] |= code[:, 1:] != code[:, :-1]
        edges[1:] |= code[1:] != code[:-1]
        ink = sample["sketch"][0] < 0.5
        precision, recall, _ = ink_precision_recall(ink, edges, tolerance=1)
        assert precision > 0.95 and recall > 0.95, (sample["name"], precision, recall)
        assert sample["skin_tone"] == ("medium" if sample["name"] == "1f44d-1f3fd" else "")
    face = twemoji.render(TWEMOJI_SVGS["1f600"], SIZE)
    assert len(np.unique(face["regions"])) - 1 >= 4  # disc, two eyes, mouth (and the paper)
    hidden = twemoji.render(TWEMOJI_SVGS["1f7e2"], SIZE)  # the hidden square draws no line
    y, x = np.mgrid[:SIZE, :SIZE]
    inside = (x - SIZE / 2 + 0.5) ** 2 + (y - SIZE / 2 + 0.5) ** 2 < (SIZE * 14 / 36) ** 2
    assert (hidden["line"][inside] == 255).all() and (hidden["line"] < 128).any()
    assert twemoji.line_width(256) == twemoji.line_width(64) == 1.5 and twemoji.line_width(512) == 3.0


def test_iconpark_line_art_is_the_strokes_in_outline_theme():
    body = ICONPARK_ICONS["alert-one"]
    source = f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 48 48">{body}</svg>'
    expected_svg = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 48 48"><g fill="none">'
                    '<circle cx="24" cy="24" r="20" fill="none" stroke="#000" stroke-width="4"/>'
                    '<path stroke="#000" stroke-linecap="round" stroke-width="4" d="M24 12v14"/>'
                    '<circle cx="24" cy="33" r="2" fill="#000"/></g></svg>')
    expected = _on_white(_render_rgba(expected_svg, SIZE))[..., 0]
    result = iconify.render_iconpark(source, SIZE, name="alert-one")
    np.testing.assert_array_equal(result["line"], expected)
    # where there is no ink and no fill edge, the colour image is the fills; ink is black
    inside = result["regions"] > 0
    assert np.abs(result["color"][inside].astype(int) - result["fills"][inside]).max() <= 1
    assert (result["color"][result["line"] == 0] == 0).all()


def _fill_colors(fills: np.ndarray) -> set[tuple[int, int, int]]:
    colors = {tuple(int(v) for v in c) for c in np.unique(fills.reshape(-1, 3), axis=0)}
    return colors - {(255, 255, 255)}


def test_iconpark_random_fills_are_deterministic_and_differ_between_regions(prepared):
    svg = iconify.load_icons(sources.source_folder("iconpark"))["two-boxes"]
    first = iconify.render_iconpark(svg, SIZE, name="two-boxes", seed=0)
    again = iconify.render_iconpark(svg, SIZE, name="two-boxes", seed=0)
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    palette = {tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in iconify.PALETTE}
    colors = _fill_colors(first["fills"])
    assert len(colors) == 2 and colors <= palette  # two boxes, two palette colours
    left, right = first["fills"][SIZE // 2, SIZE // 4], first["fills"][SIZE // 2, 3 * SIZE // 4]
    assert tuple(left) != tuple(right)
    # the same colours at every size; other seeds, other colours
    assert _fill_colors(iconify.render_iconpark(svg, 2 * SIZE, name="two-boxes", seed=0)["fills"]) == colors
    assert any(_fill_colors(iconify.render_iconpark(svg, SIZE, name="two-boxes", seed=s)["fills"]) != colors
               for s in (1, 2, 3))
    original = iconify.render_iconpark(svg, SIZE, name="two-boxes", colors="original")
    assert _fill_colors(original["fills"]) == {(0x2F, 0x88, 0xFF), (0x43, 0xCC, 0xF8)}
    np.testing.assert_array_equal(original["line"], first["line"])


def test_iconpark_dataset_seeds_are_cached_apart(prepared):
    split = openmoji.split_of(iconify.family_of("two-boxes"))
    datasets = [sources.IconParkDataset(split, size=SIZE, seed=seed) for seed in (0, 5)]
    assert datasets[0].cache.folder != datasets[1].cache.folder
    index = datasets[0].names.index("two-boxes")
    samples = [dataset[index] for dataset in datasets]
    assert torch.equal(samples[0]["sketch"], samples[1]["sketch"])
    assert datasets[0].cache.path("two-boxes").exists()
    assert torch.equal(datasets[0][index]["color"], samples[0]["color"])  # read back from the cache


def test_freehand_line_art_is_every_stroke_and_enclosed_areas_are_coloured(prepared):
    svg = iconify.load_icons(sources.source_folder("freehand"))["frame-note"]
    result = iconify.render_freehand(svg, SIZE, name="frame-note")
    ink = result["line"] < 128
    centre = SIZE // 2
    assert ink[centre, centre], "the blue pen stroke is line art"
    assert ink[centre, int(SIZE * 3 / 24)], "the dark frame is line art"
    colors = _fill_colors(result["fills"])
    assert len(colors) == 1  # the inside of the frame: one area, one colour
    assert tuple(result["fills"][int(SIZE * 6 / 24), centre]) in colors
    assert tuple(result["fills"][1, 1]) == (255, 255, 255)  # outside: paper
    window = iconify.render_freehand(iconify.load_icons(sources.source_folder("freehand"))["window-pane"], SIZE,
                                     name="window-pane")
    panes = window["fills"][SIZE // 4, centre], window["fills"][3 * SIZE // 4, centre]
    assert len(_fill_colors(window["fills"])) == 2 and tuple(panes[0]) != tuple(panes[1])
    cup = iconify.render_freehand(iconify.load_icons(sources.source_folder("freehand"))["cup-1"], SIZE, name="cup-1")
    assert not _fill_colors(cup["fills"]), "an open cup encloses nothing"


def test_repaint_leaves_masks_alone():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 48 48"><mask id="m"><path fill="#fff" d="M0 0h48v48H0z"/>'
           '</mask><g mask="url(#m)"><path stroke="#fff" d="M4 4h4"/></g></svg>')
    line = iconify.iconpark_layers(svg)["line"]
    assert 'fill="#fff"' in line and 'stroke="#000"' in line


def test_a_mix_of_sources_through_the_data_spec(prepared):
    from tinct.data.mixed import MixedDataset
    from tinct.data.specs import open_dataset

    split = openmoji.split_of(iconify.family_of("two-boxes"))
    mix = open_dataset("iconpark+freehand*2", split=split, size=SIZE)
    assert isinstance(mix, MixedDataset) and mix.names == ["iconpark", "freehand"]
    sample = mix[0]
    assert sample["source"] == "iconpark" and {"color", "sketch", "regions", "fills"} <= set(sample)


def test_icons_are_drawn_on_a_square_viewbox(tmp_path):
    (tmp_path / "icons.json").write_text(json.dumps({
        "icons": {"wide": {"body": "<path d='M0 0h49v48H0z'/>", "width": 49}, "plain": {"body": "<g/>"}},
        "width": 48, "height": 48}))
    icons = iconify.load_icons(tmp_path)
    assert 'viewBox="0 -0.5 49 49"' in icons["wide"] and 'viewBox="0 0 48 48"' in icons["plain"]
    with pytest.raises(FileNotFoundError, match="no icons.json"):
        iconify.load_icons(tmp_path / "nowhere")


def test_bad_dataset_options_are_refused(prepared):
    with pytest.raises(ValueError, match="colors must be one of"):
        sources.IconParkDataset("test", size=SIZE, colors="pastel")
    with pytest.raises(ValueError, match="sketch must be"):
        sources.TwemojiDataset("test", size=SIZE, sketch="canny")
    with pytest.raises(ValueError, match="at least 8 px"):
        iconify.render_freehand(FREEHAND_ICONS["cup-1"], 4, name="cup-1")


def test_the_data_command_lists_prepares_and_refuses(tmp_path, monkeypatch, capsys, cli):
    from tinct.cli import main

    monkeypatch.setenv("TINCT_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "| openmoji | CC BY-SA 4.0 | 4,495 | built in |" in out
    assert "| twemoji | CC BY 4.0 | 3,720 | no | - | tinct data prepare twemoji |" in out
    tarball = fake_tarball("iconpark", tmp_path)
    assert main(["data", "prepare", "iconpark", "--from", tarball]) == 0
    assert "iconpark: ready in" in capsys.readouterr().err
    assert main(["data", "list"]) == 0
    assert re.search(r"\| iconpark \| Apache-2.0 \| [0-9,]+ \| yes \| [0-9.]+ MB \|", capsys.readouterr().out)
    cli.fails(["data", "prepare", "nope"], "no source 'nope'; sources: freehand, iconpark, twemoji")
    cli.fails(["data", "prepare"], "needs a source name")
    monkeypatch.setattr("shutil.which", lambda name: None)
    cli.fails(["data", "prepare", "twemoji"], "npm is not installed", code=1)
