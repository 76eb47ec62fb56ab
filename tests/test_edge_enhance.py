"""Edge enhancement: add-ons over a frozen point-hint backbone, pseudo-scribbles in training,
checkpoints that name their backbone, and scribbles in the product (the region split)."""

import json

import cv2
import numpy as np
import pytest
import torch
from method_helpers import calibrated, random_batch
from safetensors.torch import load_file, save_file

from tinct.colorizer import Colorizer
from tinct.hintfile import Hints, Point, Scribble, load_hints, save_hints
from tinct.losses import ab_sobel, masked_squared_error
from tinct.methods import load_model
from tinct.methods.base import Inputs
from tinct.methods.edge_enhance import Config, EdgeEnhance, scribble_pyramid
from tinct.methods.point_hints import Config as PointHintsConfig
from tinct.methods.point_hints import PointHints
from tinct.regions import split_regions, trapped_ball

RED, GREEN = (0.85, 0.2, 0.15), (0.2, 0.7, 0.25)


def tiny(seed=0, *, calibrate=True, **overrides) -> EdgeEnhance:
    """A tiny model on a fresh inline backbone (8 channels, 2 levels) with BatchNorm statistics
    of a random batch, so that its output depends on its inputs in eval mode (``calibrate=False``:
    fresh statistics, a near-constant output that bleeds over every edge of the ground truth)."""
    torch.manual_seed(seed)
    model = EdgeEnhance(Config(backbone="inline", base_channels=8, depth=2, **overrides))
    if calibrate:
        calibrated(model.backbone, random_batch(seed))
    return model.eval()


def acting(model: EdgeEnhance, seed=0) -> EdgeEnhance:
    """Add-ons that act, and only near the scribble: E_i reads the scribble alone (its weights on
    A_i zero) and its output conv is random (trained add-ons learn this locality through L_con)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for addon in model.addons:
            addon.inner.weight.zero_()
            addon.inner.weight[:, 0] = 1.0  # channel 0 is the scribble
            addon.inner.bias.zero_()
            addon.outer.weight.copy_(torch.randn(addon.outer.weight.shape, generator=generator))
    return model


def halves(batch=2, size=32):
    """Left half red, right half green, and a blank sketch: the backbone sees no line, paints no
    edge there, and the red-green edge is a bleeding edge."""
    color = torch.empty(batch, 3, size, size)
    color[..., : size // 2] = torch.tensor(RED)[:, None, None]
    color[..., size // 2 :] = torch.tensor(GREEN)[:, None, None]
    return {"sketch": torch.ones(batch, 1, size, size), "color": color}


def no_hints(sketch):
    batch, _, height, width = sketch.shape
    return sketch.new_zeros(batch, 3, height, width), sketch.new_zeros(batch, 1, height, width)


def vertical_scribble(batch, size, *, column, width=3, rows=(4, 28)):
    scribbles = torch.zeros(batch, 1, size, size)
    scribbles[..., rows[0] : rows[1], column - width // 2 : column - width // 2 + width] = 1.0
    return scribbles


# ----------------------------------------------------------------------------- the add-ons


def test_no_scribble_changes_nothing_exactly():
    """Exact, not within a tolerance: an image without a scribble bypasses the add-ons (a batch
    without any runs the backbone alone), even when the add-ons would change it (E([0, A]) != 0
    for these add-ons: their output conv has a bias)."""
    model = acting(tiny())
    with torch.no_grad():
        for addon in model.addons:
            addon.outer.bias.fill_(0.5)
    data = halves()
    hints = no_hints(data["sketch"])
    backbone = model.backbone(data["sketch"], *hints)
    assert torch.equal(model.paint(Inputs(data["sketch"])), backbone)
    assert torch.equal(model.paint(Inputs(data["sketch"], scribbles=torch.zeros(2, 1, 32, 32))), backbone)
    # in a batch that mixes, the image without a scribble keeps its activation maps
    scribbles = vertical_scribble(2, 32, column=16)
    scribbles[1] = 0.0
    mixed = model.paint(Inputs(data["sketch"], scribbles=scribbles))
    assert torch.allclose(mixed[1], backbone[1], atol=1e-6)
    assert (mixed[0] - backbone[0]).abs().max() > 1e-2  # the scribbled one changed
    # without the bypass (training, the paper's E([0, A])) these add-ons would change it
    unbypassed, corrections = model.enhance(data["sketch"], *hints, torch.zeros(2, 1, 32, 32), bypass_empty=False)
    assert len(corrections) == len(model.levels) and (unbypassed - backbone).abs().max() > 1e-3


def test_untrained_add_ons_start_as_no_change():
    model = tiny()
    data = halves()
    scribbles = vertical_scribble(2, 32, column=16)
    output, corrections = model.enhance(data["sketch"], *no_hints(data["sketch"]), scribbles, bypass_empty=False)
    assert all(torch.equal(c, torch.zeros_like(c)) for c in corrections)
    assert torch.equal(output, model.backbone(data["sketch"], *no_hints(data["sketch"])))


def test_scribble_pyramid_keeps_thin_scribbles_at_every_level():
    scribbles = torch.zeros(1, 1, 30, 30)
    scribbles[0, 0, 10, 3:20] = 1.0  # 1 px, on an odd row
    for level, size in ((0, (32, 32)), (1, (16, 16)), (2, (8, 8))):
        small = scribble_pyramid(scribbles, level, size)
        assert small.shape == (1, 1, *size) and set(small.unique().tolist()) == {0.0, 1.0}
        assert small[0, 0, 10 // 2**level].sum() >= 17 // 2**level
    with pytest.raises(ValueError):
        scribble_pyramid(scribbles, 1, (8, 8))


def test_a_scribble_changes_the_picture_near_it_far_more_than_away_from_it():
    model = acting(tiny())
    size = 64
    sketch = torch.ones(1, 1, size, size)
    scribbles = vertical_scribble(1, size, column=12, width=3, rows=(8, 24))
    before = model.paint(Inputs(sketch))
    after = model.paint(Inputs(sketch, scribbles=scribbles))
    change = (after - before).abs().amax(dim=1)[0]  # (H, W)
    distance = cv2.distanceTransform((1 - scribbles[0, 0].numpy()).astype(np.uint8), cv2.DIST_L2, 3)
    near, far = change[torch.from_numpy(distance <= 4)], change[torch.from_numpy(distance >= 24)]
    assert near.mean() > 0.02
    assert near.mean() > 20 * far.mean()


# ----------------------------------------------------------------------------- training


def test_a_training_step_changes_the_add_ons_and_never_the_backbone():
    model = tiny(calibrate=False).train()
    assert not model.backbone.training  # BatchNorm statistics stay frozen in train mode
    before = {key: value.clone() for key, value in model.backbone.state_dict().items()}
    addons = [p.detach().clone() for p in model.addon_parameters()]
    (step,) = model.training_steps()
    backbone_ids = {id(p) for p in model.backbone.parameters()}
    assert {id(p) for p in step.parameters} == {id(p) for p in model.addon_parameters()}
    assert not backbone_ids & {id(p) for p in step.parameters}
    assert not any(p.requires_grad for p in model.backbone.parameters())
    optimizer = torch.optim.Adam(step.parameters, lr=1e-2)
    data = halves(batch=4)
    for seed in range(2):
        loss, logs, _ = step.run(data, {}, progress=0.0, generator=torch.Generator().manual_seed(seed))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert set(logs) == {"loss", "edge", "reg", "con", "scribbled"} and logs["scribbled"] == 1.0
    assert all(torch.equal(value, before[key]) for key, value in model.backbone.state_dict().items())
    assert all(p.grad is None for p in model.backbone.parameters())
    assert any(not torch.equal(p, q) for p, q in zip(model.addon_parameters(), addons))


def test_training_through_the_trainer_keeps_the_backbone(tmp_path):
    from tinct.train import TrainConfig, fit

    torch.manual_seed(0)
    config = TrainConfig(size=32, batch_size=2, limit=4, epochs=1, samples=2, checkpoint_every=0, accelerator="cpu",
                         out=str(tmp_path / "run"))
    overrides = {"backbone": "inline", "base_channels": 8, "depth": 2, "lr": 1e-2}
    import lightning as L

    L.seed_everything(0, verbose=False)
    initial = EdgeEnhance(Config(**overrides)).state_dict()  # fit builds the same model from the same seed
    folder = fit("edge_enhance", config, overrides)
    trained = load_file(folder / "model.safetensors")
    backbone = [key for key in trained if key.startswith("backbone.")]
    assert backbone and all(torch.equal(trained[key], initial[key]) for key in backbone)
    assert any(not torch.equal(trained[key], initial[key]) for key in trained if key.startswith("addons."))
    assert (tmp_path / "run" / "samples" / "epoch_000.png").is_file()


def test_pseudo_scribbles_in_training_are_1_to_11_px_wide_or_1_without_augmentation():
    data = halves(batch=12)
    for augmentation, allowed in ((True, set(range(1, 12))), (False, {1})):
        model = tiny(calibrate=False, width_augmentation=augmentation).train()
        seen = set()
        for seed in range(3):
            _, _, out = model.losses(data, generator=torch.Generator().manual_seed(seed))
            rows = out["scribbles"][:, 0, 8:24].sum(dim=-1)  # (B, rows) away from the edge's ends
            assert (rows == rows[:, :1]).all()  # one width per scribble
            seen.update(rows[:, 0].long().tolist())
        assert seen <= allowed and (len(seen) >= 5 if augmentation else seen == {1})
    assert Config(width_augmentation=False).train_widths == (1, 1) and Config().train_widths == (1, 11)


def test_the_losses_are_the_papers_on_lab_ab():
    data = halves(batch=1)
    target = data["color"]
    gradient = ab_sobel(target)
    assert gradient.shape == (1, 2, 32, 32)
    assert gradient[..., 15:17].amax() > 0.5 and gradient[..., :, :8].amax() < 1e-2  # the colour edge only
    gray = torch.zeros(1, 3, 32, 32)
    gray[..., 16:] = 1.0  # black | white: no colour edge
    assert ab_sobel(gray).amax() < 1e-2
    black = torch.zeros(1, 3, 8, 8, requires_grad=True)
    ab_sobel(black).sum().backward()
    assert torch.isfinite(black.grad).all()  # finite on black (the lines) and on flat colour
    mask = torch.zeros(1, 1, 32, 32)
    assert masked_squared_error(gradient, torch.zeros_like(gradient), mask) == 0  # nothing to compare
    mask[..., 14:18] = 1.0
    expected = gradient[..., 14:18].pow(2).sum(dim=1).mean()
    assert torch.allclose(masked_squared_error(gradient, torch.zeros_like(gradient), mask), expected)
    # the ablation switches are weights
    model = tiny(calibrate=False, weight_con=0.0, weight_reg=0.0).train()
    loss, logs, _ = model.losses(halves(), generator=torch.Generator().manual_seed(0))
    assert loss.item() == pytest.approx(logs["edge"])


# ----------------------------------------------------------------------------- checkpoints


def test_a_checkpoint_holds_the_add_ons_and_names_its_backbone(tmp_path):
    torch.manual_seed(0)
    backbone = calibrated(PointHints(PointHintsConfig(base_channels=8, disc_channels=8, depth=2)), random_batch(0))
    backbone.save_pretrained(tmp_path / "backbone")
    model = acting(EdgeEnhance(Config(backbone=str(tmp_path / "backbone"))).eval())
    assert model.config.base_channels == 8 and model.config.depth == 2 and model.config.levels == (0, 1)
    model.save_pretrained(tmp_path / "edge")
    saved = load_file(tmp_path / "edge" / "model.safetensors")
    assert saved and all(key.startswith("addons.") for key in saved)  # no backbone weights
    config = json.loads((tmp_path / "edge" / "config.json").read_text())
    assert config["backbone"] == str(tmp_path / "backbone") and len(config["backbone_sha256"]) == 64
    loaded = load_model(tmp_path / "edge")
    assert isinstance(loaded, EdgeEnhance) and not loaded.training and not loaded.backbone.training
    data = halves()
    scribbles = vertical_scribble(2, 32, column=16)
    hint_colors, hint_mask = no_hints(data["sketch"])
    hint_mask[..., 4:7, 4:7] = 1.0
    hint_colors[:, 0, 4:7, 4:7] = 1.0
    inputs = Inputs(data["sketch"], hint_colors=hint_colors, hint_mask=hint_mask, scribbles=scribbles)
    assert torch.equal(loaded.paint(inputs), model.paint(inputs))
    assert torch.equal(loaded.backbone.colorizer.outc.weight, backbone.colorizer.outc.weight)

    # another backbone under that name: refused, the add-ons were trained on the first
    weights = load_file(tmp_path / "backbone" / "model.safetensors")
    weights["colorizer.outc.bias"] = weights["colorizer.outc.bias"] + 1.0
    save_file(weights, str(tmp_path / "backbone" / "model.safetensors"), metadata={"method": "point_hints"})
    with pytest.raises(ValueError, match="is not the one these add-ons were trained on"):
        load_model(tmp_path / "edge")
    # sizes that contradict a named backbone, a backbone that is not a point-hint model
    with pytest.raises(ValueError, match="base_channels=16 contradicts the backbone"):
        EdgeEnhance(Config(backbone=str(tmp_path / "backbone"), base_channels=16))
    tiny().save_pretrained(tmp_path / "not_a_backbone")
    with pytest.raises(ValueError, match="needs a point-hint backbone"):
        EdgeEnhance(Config(backbone=str(tmp_path / "not_a_backbone")))
    with pytest.raises(ValueError, match="levels"):
        EdgeEnhance(Config(backbone="inline", base_channels=8, depth=2, levels=(0, 3)))


def test_the_default_backbone_is_the_shipped_point_hint_model():
    model = EdgeEnhance()
    assert model.config.backbone == "point_hints" and model.config.base_channels == 16
    assert model.config.levels == (0, 1, 2, 3) and [a.channels for a in model.addons] == [16, 32, 64, 128]
    assert all(key.startswith("addons.") for key in model.state_dict())
    assert sum(p.numel() for p in model.addon_parameters()) == 246_224


# ----------------------------------------------------------------------------- the product


def gap_sketch(size=96, gap=(36, 60)):
    """uint8 line art (255 = paper): a rectangle with a dividing line that has a gap, so the two
    areas are one region; returns it and the dividing line's column."""
    canvas = np.full((size, size), 255, np.uint8)
    cv2.rectangle(canvas, (8, 8), (size - 9, size - 9), 0, thickness=3)
    middle = size // 2
    canvas[8 : gap[0], middle - 1 : middle + 2] = 0
    canvas[gap[1] : size - 8, middle - 1 : middle + 2] = 0
    return canvas, middle


def test_split_regions_cuts_a_region_along_a_wall():
    sketch, middle = gap_sketch()
    labels = trapped_ball(sketch)
    ink = sketch < 128
    left, right = labels[48, 24], labels[48, 72]
    assert left == right  # one region through the gap
    wall = np.zeros(sketch.shape, bool)
    wall[30:66, middle - 1 : middle + 2] = True  # over the gap, onto the line at both ends
    split, parent = split_regions(labels, wall, ink)
    assert split[48, 24] != split[48, 72] and len(parent) == labels.max() + 2
    assert parent[split[48, 72]] == left and parent[split[48, 24]] == left
    assert set(np.unique(split[labels != left])) == set(np.unique(labels[labels != left]))  # the rest as it was
    assert (split[labels == left] > 0).all()  # the wall's pixels went to a part
    # a wall that cuts nothing off, or only a sliver, changes nothing
    short = np.zeros(sketch.shape, bool)
    short[44:52, middle - 1 : middle + 2] = True
    assert np.array_equal(split_regions(labels, short, ink)[0], labels)
    sliver = np.zeros(sketch.shape, bool)
    sliver[12:14, 4:52] = True  # from the left line to the dividing one, 2 px below the top line: a sliver
    assert np.array_equal(split_regions(labels, sliver, ink)[0], labels)


def test_a_scribble_across_a_gap_splits_the_region_and_each_side_is_painted_apart(tmp_path):
    sketch, middle = gap_sketch()
    colorizer = Colorizer(tiny(), size=32, paper_background=False)
    prepared = colorizer.prepare(sketch)
    red, blue = Point(x=0.25, y=0.5, color=(1.0, 0.0, 0.0)), Point(x=0.75, y=0.5, color=(0.0, 0.0, 1.0))
    scribble = Scribble(points=((middle / 96, 0.3), (middle / 96, 0.7)), width=3 / 96)
    before = colorizer.colorize(prepared, hints=Hints(points=(red, blue)))
    assert before.regions[48, 24] == before.regions[48, 72]
    assert torch.equal(before.image[:, 48, 24], before.image[:, 48, 72])  # one region, one colour (the last hint)
    path = save_hints(Hints(points=(red, blue), scribbles=(scribble,)), tmp_path / "hints.json")
    after = colorizer.colorize(prepared, hints=load_hints(path))
    assert after.regions[48, 24] != after.regions[48, 72]
    assert after.image[:, 48, 24].tolist() == [1.0, 0.0, 0.0] and after.image[:, 48, 72].tolist() == [0.0, 0.0, 1.0]
    api = colorizer.colorize(prepared, hints=Hints(points=(red, blue)),  # the API's scribbles=, hint-file form
                             scribbles=[{"points": [list(p) for p in scribble.points], "width": scribble.width}])
    assert torch.equal(api.image, after.image) and np.array_equal(api.regions, after.regions)
    # the prepared sketch is reusable: its own map never changes, the split is kept by scribbles
    assert np.array_equal(prepared.regions, before.regions) and len(prepared.walls) == 1
    again = colorizer.colorize(prepared, hints=Hints(points=(red, blue)))
    assert torch.equal(again.image, before.image)
    assert colorizer.walled(prepared, Hints(scribbles=(scribble,))) is prepared.walls[(scribble,)]


def test_a_hint_file_scribble_changes_the_picture_near_it_far_more_than_away(tmp_path):
    size = 96
    sketch = np.full((size, size), 255, np.uint8)
    for offset in (32, 64):  # a 3 x 3 grid of cells
        sketch[:, offset - 1 : offset + 2] = 0
        sketch[offset - 1 : offset + 2, :] = 0
    colorizer = Colorizer(acting(tiny()), size=64, paper_background=False)
    scribble = Scribble(points=((0.1, 0.15), (0.25, 0.15)), width=0.03)  # inside the top-left cell
    path = save_hints(Hints(scribbles=(scribble,)), tmp_path / "one_scribble.json")
    plain = colorizer.colorize(sketch)
    scribbled = colorizer.colorize(sketch, hints=path)
    for image in ("network", "image"):
        change = (getattr(scribbled, image) - getattr(plain, image)).abs().amax(dim=0)
        near, far = change[:31, :31].mean(), change[33:, 33:].mean()
        assert near > 0.01 and near > 20 * far, (image, near, far)


def test_cli_colorizes_with_points_and_scribbles(tmp_path, cli):
    from PIL import Image

    from tinct.cli import main

    sketch, middle = gap_sketch()
    Image.fromarray(sketch).save(tmp_path / "gap.png")
    folder = tiny().save_pretrained(tmp_path / "edge")
    out = tmp_path / "out.png"
    status = main(["colorize", str(tmp_path / "gap.png"), "-o", str(out), "--model", str(folder), "--size", "32",
                   "--point", "0.25,0.5,#ff0000", "--point", "0.75,0.5,#0000ff", "--paint-background",
                   "--scribble", f"{middle / 96},0.3,{middle / 96},0.7@{3 / 96}", "--save-hints",
                   str(tmp_path / "used.json")])
    assert status == 0
    pixels = np.asarray(Image.open(out).convert("RGB"))
    assert tuple(pixels[48, 24]) == (255, 0, 0) and tuple(pixels[48, 72]) == (0, 0, 255)
    saved = load_hints(tmp_path / "used.json")
    assert len(saved.scribbles) == 1 and saved.scribbles[0].width == pytest.approx(3 / 96)
    for bad in ("0.1,0.1,0.5", "0.1,0.1,0.5,0.5@0.01,0.02", "0.1,0.1,0.5,1.5", "0.1,0.1@0"):
        cli.fails(["colorize", tmp_path / "gap.png", "-o", out, "--model", folder, "--scribble", bad],
                  match="--scribble takes x1,y1,x2,y2")


def test_training_over_a_named_backbone_exports_and_resumes_without_its_weights(tmp_path):
    from tinct.train import TrainConfig, fit

    torch.manual_seed(0)
    PointHints(PointHintsConfig(base_channels=8, disc_channels=8, depth=2)).save_pretrained(tmp_path / "backbone")
    overrides = {"backbone": str(tmp_path / "backbone")}

    def config(steps):
        return TrainConfig(size=32, batch_size=2, limit=8, epochs=1, max_steps=steps, samples=2, checkpoint_every=2,
                           accelerator="cpu", out=str(tmp_path / "run"))

    fit("edge_enhance", config(2), overrides)
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert not any(".backbone." in key for key in checkpoint["state_dict"])
    folder = fit("edge_enhance", config(4), overrides, resume="auto")
    assert json.loads((folder / "train_summary.json").read_text())["batches"] == 4
    assert all(key.startswith("addons.") for key in load_file(folder / "model.safetensors"))
    assert isinstance(load_model(folder), EdgeEnhance)
