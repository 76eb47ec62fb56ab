import json

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


def test_cli_train_help_and_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "guiding_painter", "--help"])
    help_text = capsys.readouterr().out
    assert info.value.code == 0 and "--resume" in help_text and "--init" in help_text and "scft" in help_text
    with pytest.raises(SystemExit, match="unknown method 'nope'"):
        main(["train", "nope", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="unknown key"):
        main(["train", "guiding_painter", "--set", "model.width=3", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="no checkpoint"):
        main(["train", "guiding_painter", "--resume", str(tmp_path / "none.ckpt"), "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="--init: no .*model.safetensors"):
        main(["train", "guiding_painter", "--init", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")])


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

    monkeypatch.setattr(Toy, "batch_keys", ("sketch", "color", "tags"))
    with pytest.raises(ValueError, match="the method needs tags too"):
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
