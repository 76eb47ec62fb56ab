import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tinct.cli import main
from tinct.methods import METHODS
from tinct.train import TrainConfig, fit, override, parse_assignments, read_overrides

TINY = {"base_channels": 8, "num_segments": 6}


def _config(tmp_path, name, **changes):
    values = dict(size=32, batch_size=2, limit=4, epochs=1, samples=2, sample_hints=(0, 2), checkpoint_every=2,
                  accelerator="cpu", out=str(tmp_path / name))
    values.update(changes)
    return TrainConfig(**values)


def test_overrides_and_unknown_keys(tmp_path):
    config = override(TrainConfig(), {"epochs": 3, "sample_hints": [1, 2]}, where="train")
    assert config.epochs == 3 and config.sample_hints == (1, 2)
    with pytest.raises(ValueError, match="unknown key.*'epoch'.*known"):
        override(TrainConfig(), {"epoch": 3}, where="train")
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  epochs: 2\nmodel:\n  base_channels: 8\n")
    assert read_overrides(path) == {"train": {"epochs": 2}, "model": {"base_channels": 8}}
    path.write_text("trian:\n  epochs: 2\n")
    with pytest.raises(ValueError, match="top-level keys"):
        read_overrides(path)
    assert parse_assignments(["model.base_channels=8", "train.augment=false"]) == {
        "model": {"base_channels": 8}, "train": {"augment": False}}
    with pytest.raises(ValueError, match="--set"):
        parse_assignments(["epochs=3"])


def test_fast_dev_run_exports_loadable_weights(tmp_path):
    folder = fit("guiding_painter", _config(tmp_path, "fdr"), TINY, fast_dev_run=True)
    config = json.loads((folder / "config.json").read_text())
    assert config["method"] == "guiding_painter" and config["base_channels"] == 8
    model = METHODS["guiding_painter"].from_pretrained(folder)
    sketch = torch.ones(1, 1, 32, 32)
    sketch[..., 10, :] = 0
    assert model.colorize(sketch).shape == (1, 3, 32, 32)
    assert (tmp_path / "fdr" / "samples" / "epoch_000.png").exists()


def test_training_is_reproducible_and_resumes(tmp_path):
    first = fit("point_hints", _config(tmp_path, "a", max_steps=4), {"base_channels": 8})
    second = fit("point_hints", _config(tmp_path, "b", max_steps=4), {"base_channels": 8})
    weights_a, weights_b = load_file(first / "model.safetensors"), load_file(second / "model.safetensors")
    assert weights_a.keys() == weights_b.keys()
    assert all(torch.equal(weights_a[key], weights_b[key]) for key in weights_a)  # same seed: identical
    assert json.loads((first / "train_summary.json").read_text())["optimizer_steps"] == 4

    # resume the first run from its last checkpoint and go on to 8 optimiser steps (4 batches)
    resumed = fit("point_hints", _config(tmp_path, "a", max_steps=8, epochs=3), {"base_channels": 8}, resume="auto")
    summary = json.loads((resumed / "train_summary.json").read_text())
    assert summary["optimizer_steps"] == 8 and summary["resumed_from_step"] == 4
    weights_c = load_file(resumed / "model.safetensors")
    assert any(not torch.equal(weights_a[key], weights_c[key]) for key in weights_a)  # it trained on


def _cli_error(argv: list[str], capsys) -> str:
    """Run the CLI on ``argv``, which must fail with exactly one ``tinct: error:`` line; returns it."""
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exit_:  # a CLI that exits with its message instead of returning a status
        code, err = 1, str(exit_.code)
    else:
        err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("tinct: error:")]
    assert code != 0 and len(lines) == 1, (code, err[-2000:])
    return lines[0]


def test_cli_train_help_and_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "guiding_painter", "--help"])
    help_text = capsys.readouterr().out
    assert info.value.code == 0 and "--resume" in help_text and "--init" in help_text and "scft" in help_text
    out = ["--out", str(tmp_path / "x")]
    assert "unknown method 'nope'" in _cli_error(["train", "nope", *out], capsys)
    assert "unknown key" in _cli_error(["train", "guiding_painter", "--set", "model.width=3", *out], capsys)
    assert "no checkpoint" in _cli_error(["train", "guiding_painter", "--resume", str(tmp_path / "none.ckpt"), *out],
                                         capsys)
    message = _cli_error(["train", "guiding_painter", "--init", str(tmp_path / "nothing"), *out], capsys)
    assert "--init: no " in message and "model.safetensors" in message


def test_checkpoint_every_zero_writes_only_the_final_export(tmp_path):
    folder = fit("point_hints", _config(tmp_path, "run", max_steps=4, checkpoint_every=0), {"base_channels": 8})
    assert (folder / "model.safetensors").is_file() and not (tmp_path / "run" / "checkpoints").exists()


def test_keep_checkpoints_keeps_the_newest(tmp_path):
    fit("point_hints", _config(tmp_path, "run", epochs=5, max_steps=10, checkpoint_every=2, keep_checkpoints=2),
        {"base_channels": 8})
    names = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert names == ["last.ckpt", "step=10.ckpt", "step=8.ckpt"]
    with pytest.raises(ValueError, match="keep_checkpoints"):
        _config(tmp_path, "bad", keep_checkpoints=-1)


def test_linear_decay_follows_pix2pix():
    from tinct.train import linear_decay

    factor = linear_decay(10, 0.5)
    assert [factor(step) for step in range(5)] == [1.0] * 5
    assert [round(factor(step), 3) for step in range(5, 10)] == [0.833, 0.667, 0.5, 0.333, 0.167]


def test_init_from_exported_weights(tmp_path):
    first = fit("point_hints", _config(tmp_path, "a", max_steps=2), {"base_channels": 8})
    second = fit("point_hints", _config(tmp_path, "b", max_steps=2, init=str(first)), {"base_channels": 8})
    before, after = load_file(first / "model.safetensors"), load_file(second / "model.safetensors")
    # started from the first run's weights: one more step keeps them close, unlike a fresh start
    fresh = load_file(fit("point_hints", _config(tmp_path, "c", max_steps=2, seed=5), {"base_channels": 8})
                      / "model.safetensors")
    key = next(k for k in before if k.endswith("weight") and before[k].ndim == 4)
    assert (after[key] - before[key]).abs().mean() < (fresh[key] - before[key]).abs().mean()


def test_trains_on_a_folder_of_images(tmp_path):
    from PIL import Image

    from tinct.data.openmoji import RenderCache

    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("1F600", "1F33B", "1F3E0"):
        Image.fromarray(RenderCache().get(name, 48)["color"]).save(folder / f"{name}.png")
    (folder / "broken.png").write_bytes(b"not an image")
    config = _config(tmp_path, "folder", data=str(folder), max_steps=2)
    exported = fit("point_hints", config, {"base_channels": 8})
    assert (exported / "model.safetensors").exists()
    assert (tmp_path / "folder" / "samples" / "epoch_000.png").exists()


def test_tags_and_skeleton_target_are_made_and_gaps_open_only_the_input(tmp_path):
    from PIL import Image

    from tinct.data.openmoji import RenderCache, list_emojis
    from tinct.data.tags import TAGS, vector_to_tags
    from tinct.regions import region_skeleton
    from tinct.train import _datasets

    folder = tmp_path / "images"  # a folder gives no skin_tone: the mix keeps the key all the same
    folder.mkdir()
    Image.fromarray(RenderCache().get("1F600", 64)["color"]).save(folder / "smile.png")
    keys = ("sketch", "color", "tags", "skeleton_target")
    toned = next(i for i, emoji in enumerate(list_emojis("train")) if emoji.skin_tone == "medium")
    mix = f"openmoji+{folder}"
    closed, _ = _datasets(_config(tmp_path, "a", size=64, limit=None, data=mix), keys)
    opened, val = _datasets(_config(tmp_path, "b", size=64, limit=None, data=mix, gaps=1.0), keys)
    jittered, _ = _datasets(_config(tmp_path, "c", size=64, limit=None, data=mix, hue_jitter=1.0), keys)
    for index in (toned, len(closed) - 1):
        sample, gapped = closed[(index, 7)], opened[(index, 7)]
        assert set(sample) == set(keys) == set(gapped)
        assert sample["sketch"].shape == (1, 64, 64) and sample["color"].shape == (3, 64, 64)
        assert sample["tags"].shape == (len(TAGS),) and sample["tags"].dtype == torch.float32
        target = sample["skeleton_target"]
        assert target.shape == (1, 64, 64) and target.dtype == torch.float32 and set(target.unique().tolist()) == {0.0, 1.0}
        assert torch.equal(target, region_skeleton(sample["sketch"][None])[0])  # of the closed sketch
        # the same draws: only the input sketch differs, opened where it was ink
        assert torch.equal(gapped["skeleton_target"], target) and torch.equal(gapped["tags"], sample["tags"])
        changed = gapped["sketch"] != sample["sketch"]
        assert changed.any() and (gapped["sketch"][changed] == 1).all() and (sample["sketch"][changed] < 1).all()
    tags = vector_to_tags(closed[(toned, 7)]["tags"])
    assert "skin_medium" in tags and any(tag in tags for tag in ("brown", "beige", "orange"))
    assert "skin_medium" not in vector_to_tags(jittered[(toned, 7)]["tags"])  # its colours moved: no skin tag
    assert not any(tag.startswith("skin_") for tag in vector_to_tags(closed[(len(closed) - 1, 7)]["tags"]))
    assert set(val[0]) == {*keys, "source"} and val[0]["tags"].shape == (len(TAGS),)  # a mix names the source


# ----------------------------------------------------------------------------- declared steps

from dataclasses import dataclass  # noqa: E402

from tinct.data.hints import random_points  # noqa: E402
from tinct.methods.base import Guidance, Method, Step  # noqa: E402

CALLS: list[tuple[str, float]] = []
INITIAL: dict[str, torch.Tensor] = {}


@dataclass
class ToyConfig:
    method: str = "toy"
    lr: float = 1e-2
    addon_only: bool = False  # one add-on optimiser over a frozen backbone (edge enhancement's shape)


class Toy(Method):
    """Backbone + add-on 1x1 convolutions trained in two phases, or the add-on alone."""

    name = "toy"
    config_class = ToyConfig
    guidance = Guidance(points=True)
    protocol = "hints"
    batch_keys = ("sketch", "color", "regions")  # regions: the method's own key must reach it

    def __init__(self, config=None):
        super().__init__()
        self.config = config or ToyConfig()
        self.backbone = torch.nn.Conv2d(5, 3, 1)
        self.addon = torch.nn.Conv2d(3, 3, 1)
        INITIAL.update(backbone=self.backbone.weight.detach().clone(), addon=self.addon.weight.detach().clone())

    def paint(self, inputs):
        features = self.backbone(torch.cat([inputs.sketch, *inputs.hints_or_none()], dim=1))
        return torch.sigmoid(self.addon(features))

    def hint_policy(self, batch, prepared, *, max_hints, generator=None):
        return random_points(batch["color"], max_hints=max_hints, generator=generator)

    def training_steps(self):
        from tinct.methods.base import Inputs

        def run(name):
            def step(batch, carry, *, progress, generator):
                assert batch["regions"].shape[-2:] == batch["sketch"].shape[-2:]  # the method's own batch key
                CALLS.append((name, progress))
                loss = (self.paint(Inputs(batch["sketch"])) - batch["color"]).abs().mean()
                return loss, {f"loss_{name}": float(loss)}, {}
            return step

        if self.config.addon_only:
            self.backbone.requires_grad_(False)
            return [Step("addon", list(self.addon.parameters()), run("addon"), lr=self.config.lr)]
        return [Step("first", list(self.backbone.parameters()), run("first"), lr=self.config.lr, active=(0.0, 0.5)),
                Step("second", list(self.addon.parameters()), run("second"), lr=self.config.lr, active=(0.5, 1.0))]


def test_phases_and_a_frozen_backbone_are_just_declared_steps(tmp_path, monkeypatch):
    monkeypatch.setitem(METHODS, "toy", Toy)
    CALLS.clear()
    fit("toy", _config(tmp_path, "phases", limit=8, epochs=1), {})  # 4 batches: 2 in each phase
    assert [name for name, _ in CALLS] == ["first", "first", "second", "second"]
    assert [progress for _, progress in CALLS] == [0.0, 0.25, 0.5, 0.75]
    summary = json.loads((tmp_path / "phases" / "model" / "train_summary.json").read_text())
    assert summary["batches"] == 4 and summary["optimizer_steps"] == 4  # one optimiser step per batch

    CALLS.clear()
    folder = fit("toy", _config(tmp_path, "addon", limit=8, epochs=1), {"addon_only": True})
    weights = load_file(folder / "model.safetensors")
    assert [name for name, _ in CALLS] == ["addon"] * 4
    assert torch.equal(weights["backbone.weight"], INITIAL["backbone"])  # the backbone never changes
    assert not torch.equal(weights["addon.weight"], INITIAL["addon"])  # the add-on trained

    monkeypatch.setattr(Toy, "batch_keys", ("sketch", "color", "palette"))  # no data gives it (tags are made)
    with pytest.raises(ValueError, match="the method needs palette too"):
        fit("toy", _config(tmp_path, "missing", limit=8, epochs=1), {})


def test_cli_trains_with_plain_ddp_on_two_cpu_processes(tmp_path):
    """The README's scale-out command, on two CPU processes (gloo): plain ``ddp``, no
    ``find_unused_parameters``; it trains and exports."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-m", "tinct.cli", "train", "point_hints", "--devices", "2", "--strategy", "ddp",
               "--accelerator", "cpu", "--size", "32", "--batch-size", "2", "--limit", "8", "--epochs", "1",
               "--set", "model.base_channels=8", "--set", "model.disc_channels=8", "--set", "model.depth=2",
               "--out", str(tmp_path / "run")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root / "src")}
    process = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "model" / "train_summary.json").read_text())
    assert summary["batches"] == 2 and summary["optimizer_steps"] == 4  # 8 images / 2 processes / batch 2; G + D
    assert METHODS["point_hints"].from_pretrained(tmp_path / "run" / "model").config.base_channels == 8


# ----------------------------------------------------------------------------- clear errors and guards


def test_config_files_with_bad_yaml_name_the_file_and_line(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  epochs: [1, 2\nmodel: {}\n")
    with pytest.raises(ValueError, match=rf"^{path}, line \d+: not valid YAML: expected ',' or ']'"):
        read_overrides(path)
    path.write_text("train: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ValueError, match=rf"^{path}, line 1: .*!!python/object/apply:os.system is not allowed"):
        read_overrides(path)
    message = _cli_error(["train", "point_hints", "--config", str(path), "--out", str(tmp_path / "x")], capsys)
    assert str(path) in message and "line 1" in message and "hacked" not in capsys.readouterr().out
    path.write_text("train: 3\n")
    with pytest.raises(ValueError, match="'train' must map setting names to values, got int"):
        read_overrides(path)
    with pytest.raises(ValueError, match=rf"config file {tmp_path} is a folder"):
        read_overrides(tmp_path)
    with pytest.raises(ValueError, match=r"--set train.epochs=\[1: not valid YAML"):
        parse_assignments(["train.epochs=[1"])


@pytest.mark.parametrize(("changes", "message"), [
    ({"size": 4}, "train.size must be at least 8, got 4"),
    ({"epochs": 0}, "train.epochs must be at least 1, got 0"),
    ({"batch_size": 0}, "train.batch_size must be at least 1, got 0"),
    ({"max_steps": 0}, r"train.max_steps must be -1 \(all epochs\) or at least 1, got 0"),
    ({"max_steps": -2}, r"train.max_steps must be -1 \(all epochs\) or at least 1, got -2"),
    ({"limit": 0}, "train.limit must be at least 1"),
    ({"checkpoint_every": -1}, "train.checkpoint_every must be at least 0, got -1"),
    ({"samples": 0}, "train.samples must be at least 1, got 0"),
    ({"num_workers": -1}, "train.num_workers must be at least 0, got -1"),
    ({"epochs": "3x"}, "train.epochs takes a whole number, got '3x'"),
    ({"size": 32.5}, "train.size takes a whole number, got 32.5"),
    ({"decay_start": 1.5}, r"train.decay_start must be in \[0, 1\], got 1.5"),
    ({"seed": -1}, r"train.seed must be in \[0, 2\*\*32\), got -1"),
    ({"gaps": 1.5}, r"train.gaps takes a probability in \[0, 1\], got 1.5"),
    ({"max_minutes": 0}, "train.max_minutes takes a positive number of minutes, got 0"),
    ({"max_minutes": "soon"}, "train.max_minutes takes a positive number of minutes, got 'soon'"),
    ({"deterministic": "maybe"}, "train.deterministic takes true, false or warn, got 'maybe'"),
])
def test_train_config_rejects_values_out_of_range(changes, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        TrainConfig(**changes)
    with pytest.raises(ValueError, match=f"^{message}"):  # the CLI's path: --set / --config / flags
        override(TrainConfig(), changes, where="train")


@pytest.mark.parametrize(("changes", "message"), [
    ({"precision": "bad"}, r"precision='bad': Precision 'bad' is invalid"),
    ({"accelerator": "tpux"}, r"accelerator='tpux'.*invalid accelerator name"),
    ({"devices": 0}, r"devices=0.*not a valid input"),
])
def test_lightning_settings_it_refuses_are_one_clear_error(tmp_path, changes, message):
    with pytest.raises(ValueError, match=f"^cannot train with .*{message}"):
        fit("point_hints", _config(tmp_path, "x", **changes), {"base_channels": 8})
    assert not (tmp_path / "x").exists()  # refused before anything was built


def test_a_size_the_method_cannot_take_is_its_own_clear_error(tmp_path):
    with pytest.raises(ValueError, match="multiples of 16, got 40×40"):
        fit("scft", _config(tmp_path, "scft", size=40, limit=2), {"base_channels": 8, "res_blocks": 1})


def test_resume_refuses_what_is_not_a_checkpoint_of_this_method(tmp_path, capsys):
    import pickle

    fit("point_hints", _config(tmp_path, "run", max_steps=2), {"base_channels": 8})
    checkpoint = tmp_path / "run" / "checkpoints" / "step=2.ckpt"
    config = _config(tmp_path, "other", max_steps=2)

    def refused(resume, method="point_hints", model=None):
        with pytest.raises(ValueError) as info:
            fit(method, config, {"base_channels": 8} if model is None else model, resume=str(resume))
        return str(info.value)

    message = refused(tmp_path / "run")
    assert "is a folder" in message and str(tmp_path / "run" / "checkpoints" / "last.ckpt") in message
    (tmp_path / "random.ckpt").write_bytes(bytes(range(256)) * 4)
    assert "random.ckpt is not a Lightning checkpoint (not a PyTorch zip archive)" in refused(tmp_path / "random.ckpt")
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps({"state_dict": {}}))
    assert "plain.pkl is not a Lightning checkpoint" in refused(tmp_path / "plain.pkl")
    torch.save({"weights": torch.ones(2)}, tmp_path / "weights.pt")
    assert "not a Lightning training checkpoint (it has no state_dict, optimizer_states, loops)" in refused(
        tmp_path / "weights.pt")
    torch.save({"state_dict": {}, "optimizer_states": [], "loops": {}, "path": tmp_path}, tmp_path / "objects.ckpt")
    assert "holds Python objects other than tensors" in refused(tmp_path / "objects.ckpt")
    message = refused(checkpoint, "guiding_painter", TINY)
    assert message == f"--resume {checkpoint} is a checkpoint of point_hints, not guiding_painter"
    message = refused(checkpoint, model={"base_channels": 16})
    assert "does not fit point_hints with these model settings: method." in message and "(8," in message
    assert "is a checkpoint of point_hints" in _cli_error(
        ["train", "guiding_painter", "--resume", str(checkpoint), "--out", str(tmp_path / "cli")], capsys)


def test_init_refuses_weights_that_do_not_fit(tmp_path):
    METHODS["point_hints"](METHODS["point_hints"].config_class(base_channels=16)).save_pretrained(tmp_path / "wide")
    METHODS["guiding_painter"](METHODS["guiding_painter"].config_class(**TINY)).save_pretrained(tmp_path / "gp")
    config = _config(tmp_path, "x", max_steps=2)
    with pytest.raises(ValueError, match=rf"^--init: the weights in {tmp_path / 'wide'} do not fit point_hints with "
                                         r"these model settings: \S+ is \(16, .*\) there but \(8, .*\) in the model"):
        fit("point_hints", dataclasses.replace(config, init=str(tmp_path / "wide")), {"base_channels": 8})
    with pytest.raises(ValueError, match=r"do not fit point_hints .*\(they are guiding_painter weights\): colorizer"):
        fit("point_hints", dataclasses.replace(config, init=str(tmp_path / "gp")), {"base_channels": 8})
    weights = tmp_path / "wide" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated
    with pytest.raises(ValueError, match=rf"^--init: cannot read {weights} \(corrupt or truncated\?\)"):
        fit("point_hints", dataclasses.replace(config, init=str(tmp_path / "wide")), {"base_channels": 16})
    weights.write_bytes(b"\xff" * 64)  # garbage
    with pytest.raises(ValueError, match=rf"^--init: cannot read {weights}"):
        fit("point_hints", dataclasses.replace(config, init=str(tmp_path / "wide")), {"base_channels": 16})


def _undecodable_png(path) -> None:
    """A PNG whose header and chunk checksums are fine but whose pixel data does not inflate."""
    import io
    import struct
    import zlib

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), (200, 100, 50)).save(buffer, "PNG")
    data = buffer.getvalue()
    at = data.index(b"IDAT")
    length = struct.unpack(">I", data[at - 4 : at])[0]
    body = (bytes(range(256)) * (length // 256 + 1))[:length]
    path.write_bytes(data[: at + 4] + body + struct.pack(">I", zlib.crc32(b"IDAT" + body)) + data[at + 8 + length :])


def test_a_folder_with_no_decodable_image_is_a_clear_error(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        _undecodable_png(folder / name)
    with pytest.raises(ValueError, match=rf"^no image file in {folder} could be decoded: all 2 that looked readable"):
        fit("point_hints", _config(tmp_path, "run", data=str(folder)), {"base_channels": 8})
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    with pytest.raises(ValueError, match=rf"^no readable images in {empty}: found no image files"):
        fit("point_hints", _config(tmp_path, "run", data=str(empty)), {"base_channels": 8})


class NanLoss(Toy):
    """The toy add-on method whose loss turns NaN at its third batch."""

    name = "nan_loss"

    def training_steps(self):
        batches = []

        def poisoned(run):
            def step(batch, carry, *, progress, generator):
                loss, logs, out = run(batch, carry, progress=progress, generator=generator)
                batches.append(progress)
                return (loss * float("nan") if len(batches) == 3 else loss), logs, out
            return step

        return [dataclasses.replace(step, run=poisoned(step.run)) for step in super().training_steps()]


class NanGradient(Toy):
    """The toy add-on method whose loss stays finite while the add-on weight's gradient is NaN
    (sqrt(|x|) at x = 0: 0 * inf), so its first update makes the weight NaN."""

    name = "nan_gradient"

    def training_steps(self):
        def poisoned(run):
            def step(batch, carry, *, progress, generator):
                loss, logs, out = run(batch, carry, progress=progress, generator=generator)
                return loss + (self.addon.weight * 0).abs().sqrt().sum(), logs, out
            return step

        return [dataclasses.replace(step, run=poisoned(step.run)) for step in super().training_steps()]


def test_a_nan_loss_stops_training_and_keeps_the_last_good_export(tmp_path, monkeypatch):
    monkeypatch.setitem(METHODS, "nan_loss", NanLoss)
    config = _config(tmp_path, "nan", limit=8, epochs=1)  # 4 batches, one step each; exports at steps 2 and 4
    with pytest.raises(ValueError, match=r"^training stopped at global step 2 \(epoch 0, batch 2\) in the 'addon' "
                                         r"step: its loss is nan; nothing of it was saved"):
        fit("nan_loss", config, {"addon_only": True})
    exported = load_file(tmp_path / "nan" / "model" / "model.safetensors")
    saved = torch.load(tmp_path / "nan" / "checkpoints" / "step=2.ckpt", weights_only=True)["state_dict"]
    assert all(torch.equal(exported[key], saved[f"method.{key}"]) for key in exported)  # step 2's good weights
    assert not (tmp_path / "nan" / "checkpoints" / "step=4.ckpt").exists()


def test_a_non_finite_weight_stops_training_without_exporting_over_a_good_model(tmp_path, monkeypatch):
    monkeypatch.setitem(METHODS, "toy", Toy)
    monkeypatch.setitem(METHODS, "nan_gradient", NanGradient)
    config = _config(tmp_path, "run", limit=8, epochs=1)
    good = fit("toy", config, {"addon_only": True}) / "model.safetensors"
    before = good.read_bytes()
    with pytest.raises(ValueError, match=r"^training stopped at global step 0 \(epoch 0, batch 0\) in the 'addon' "
                                         r"step: the weight addon.weight became non-finite \(nan\); nothing"):
        fit("nan_gradient", config, {"addon_only": True})
    assert good.read_bytes() == before  # the good export in run/model was not overwritten


def test_checking_every_weight_is_cheap_and_names_the_first_bad_one():
    import time

    from tinct.train import MethodModule

    module = MethodModule(torch.nn.Sequential(*[torch.nn.Linear(1000, 1000) for _ in range(5)]), TrainConfig())
    parameters = list(module.method.parameters())  # 5M
    step = type("Step", (), {"name": "g", "parameters": parameters})()
    for parameter in parameters:
        parameter.grad = torch.ones_like(parameter)
    adam = torch.optim.Adam(parameters)

    def seconds(work) -> float:
        work()
        started = time.perf_counter()
        for _ in range(3):
            work()
        return time.perf_counter() - started

    assert seconds(lambda: module._check_parameters(step, 0)) < seconds(adam.step) / 3  # measured: about 1/30
    with torch.no_grad():
        parameters[0][0, 0] = 1e30  # huge but finite: its L2 norm overflows, yet nothing is wrong
    module._check_parameters(step, 0)
    with torch.no_grad():
        module.method[3].bias[7] = float("nan")
    module._names = {id(p): name for name, p in module.method.named_parameters()}
    with pytest.raises(ValueError, match=r"the weight 3.bias became non-finite \(nan\)"):
        module._check_parameters(step, 0)


CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_reads_and_builds_its_model(path):
    from tinct.train import build_method

    method = next(name for name in METHODS if path.stem == name or path.name.startswith(name + "_"))
    sections = read_overrides(path)
    override(TrainConfig(), sections["train"], where=str(path))
    model = build_method(method, sections["model"])
    assert model.name == method and sum(p.numel() for p in model.parameters()) > 0


def test_a_wall_clock_cap_stops_training_and_still_exports(tmp_path):
    """train.max_minutes (the GPU runs' guard): Lightning's max_time stops the run, and the
    end-of-training export still writes the model; deterministic=warn reaches the trainer."""
    config = override(TrainConfig(), parse_assignments(["train.max_minutes=0.0005", "train.deterministic=warn"])["train"],
                      where="train")
    assert config.max_minutes == 0.0005 and config.deterministic == "warn"
    config = dataclasses.replace(_config(tmp_path, "run", checkpoint_every=0, epochs=50), max_minutes=config.max_minutes,
                                 deterministic=config.deterministic)
    model = fit("point_hints", config, {"base_channels": 8})
    summary = json.loads((model / "train_summary.json").read_text())
    assert (model / "model.safetensors").exists() and summary["epochs"] < 50  # stopped by the clock, not the epochs


def test_resume_auto_reads_the_newest_last_checkpoint_and_keeps_its_name(tmp_path):
    """A resumed run with other checkpoint settings (here keep_checkpoints) overwrites
    last.ckpt instead of writing last-v1.ckpt beside it; and --resume auto takes the newest
    last*.ckpt, for runs an earlier version left with a last-v1.ckpt."""
    import os

    from tinct.train import _checkpoint_path

    fit("point_hints", _config(tmp_path, "run", max_steps=4, epochs=3), {"base_channels": 8})
    fit("point_hints", _config(tmp_path, "run", max_steps=8, epochs=3, keep_checkpoints=1), {"base_channels": 8},
        resume="auto")
    folder = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in folder.glob("last*.ckpt")) == ["last.ckpt"]
    assert torch.load(folder / "last.ckpt", map_location="cpu", weights_only=False)["global_step"] == 8
    newer = folder / "last-v1.ckpt"
    newer.write_bytes((folder / "last.ckpt").read_bytes())
    os.utime(folder / "last.ckpt", (1, 1))
    assert _checkpoint_path("auto", tmp_path / "run") == newer
    assert _checkpoint_path("auto", tmp_path / "elsewhere") is None
