"""The method contract (tinct.methods.base), checked the same way for every registered method
and baseline: a new method gets all of this by being registered in ``METHODS``.

Tiny configs are made generically: every config field named below is shrunk when the method
has it (B = 2, 32 x 32 px, 8 base channels); a method built over a backbone (edge enhancement)
gets a fresh tiny one, saved with it, instead of a shipped one.
"""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tinct.baselines import BASELINES
from tinct.colorizer import Colorizer
from tinct.evaluate import protocol
from tinct.guidance import GuidanceError, Request
from tinct.hintfile import Hints, Point, Scribble
from tinct.methods import METHODS, load_model
from tinct.methods.base import GUIDANCE_KINDS, Guidance, Inputs, Method, Step

ROOT = Path(__file__).resolve().parents[1]
TINY = {"base_channels": 8, "disc_channels": 8, "depth": 2, "res_blocks": 1, "num_segments": 6, "backbone": "inline"}
SIZE = 32


def tiny(name: str) -> Method:
    """A freshly initialised ``METHODS[name]`` at test size, seeded."""
    cls = METHODS[name]
    names = {field.name for field in dataclasses.fields(cls.config_class)}
    torch.manual_seed(0)
    return cls(cls.config_class(**{k: v for k, v in TINY.items() if k in names}))



MODELS = [name for name in METHODS] + [f"baseline:{name}" for name in BASELINES]


def build(name: str) -> Method:
    return tiny(name) if name in METHODS else load_model(name)


def batch(seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    sketch = torch.ones(2, 1, SIZE, SIZE)
    sketch[:, :, :, 15:17] = 0.0  # a line: two regions
    sketch[:, :, 8:10, :] = 0.0
    return {"sketch": sketch, "color": torch.rand(2, 3, SIZE, SIZE, generator=generator)}


def full_inputs(model: Method, data: dict, prepared: dict) -> Inputs:
    """Inputs carrying every kind of guidance the model takes."""
    guidance, sketch = model.guidance, data["sketch"]
    generator = torch.Generator().manual_seed(1)
    hint_mask = (torch.rand(2, 1, SIZE, SIZE, generator=generator) > 0.9).float()
    takes_hints = guidance.regions or guidance.points
    return Inputs(
        sketch=sketch,
        hint_colors=data["color"] * hint_mask if takes_hints else None,
        hint_mask=hint_mask if takes_hints else None,
        reference=data["color"].flip(-1) if guidance.reference else None,
        tags=torch.zeros(2, len(guidance.tags)).index_fill_(1, torch.tensor([0]), 1.0) if guidance.tags else None,
        style=torch.randn(2, guidance.style_dim, generator=generator) if guidance.style_dim else None,
        scribbles=hint_mask if guidance.scribbles else None,
        prepared=prepared,
    )


# ----------------------------------------------------------------------------- declarations


@pytest.mark.parametrize("name", MODELS)
def test_declaration(name):
    model = build(name)
    assert isinstance(model.guidance, Guidance) and model.guidance.kinds  # every model takes something
    protocol(model.protocol)  # a registered evaluation protocol (raises otherwise)
    assert {"sketch", "color"} <= set(model.batch_keys)
    assert model.name == name and model.display_name.startswith(name.split(":")[0])
    assert set(model.guidance.required) <= set(model.guidance.kinds)
    if model.guidance.regions:  # a model that ranks regions says so in prepare
        segments = model.prepare(batch()["sketch"])["segments"]
        assert segments.shape[:2] == (2, model.config.num_segments) and segments.sum(1).eq(1).all()


@pytest.mark.parametrize("name", MODELS)
def test_paint_shapes_and_ranges(name):
    model = build(name).eval()
    data = batch()
    prepared = model.prepare(data["sketch"])
    output = model.paint(full_inputs(model, data, prepared))
    assert output.shape == (2, 3, SIZE, SIZE) and output.dtype == torch.float32
    assert torch.isfinite(output).all() and output.min() >= 0 and output.max() <= 1
    again, details = model.paint_details(full_inputs(model, data, prepared))
    assert torch.equal(again, output) and isinstance(details, dict)  # deterministic in eval mode, one pass


# ----------------------------------------------------------------------------- training


TRAINABLE = [name for name in METHODS if tiny(name).trainable]


@pytest.mark.parametrize("name", TRAINABLE)
def test_every_trainable_parameter_gets_a_finite_gradient(name):
    model = tiny(name).train()
    data = {key: value for key, value in batch().items() if key in model.batch_keys}
    steps = model.training_steps()
    assert steps and all(isinstance(step, Step) for step in steps)
    covered = {id(p) for step in steps for p in step.parameters}
    assert covered == {id(p) for p in model.parameters() if p.requires_grad}  # every parameter is optimised
    carry: dict = {}
    for step in steps:
        model.zero_grad(set_to_none=True)
        loss, logs, passed_on = step.run(data, carry, progress=0.0, generator=torch.Generator().manual_seed(0))
        assert loss.ndim == 0 and torch.isfinite(loss) and all(np.isfinite(v) for v in logs.values())
        loss.backward()
        for parameter in step.parameters:
            assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), step.name
        carry = {**carry, **passed_on}
    assert set(data) == set(batch()) & set(model.batch_keys)  # the batch is never written to


@pytest.mark.parametrize("name", TRAINABLE)
def test_fast_dev_run_and_save_load(name, tmp_path):
    from tinct.train import TrainConfig, fit

    config = TrainConfig(size=SIZE, batch_size=2, limit=4, epochs=1, samples=2, checkpoint_every=2,
                         accelerator="cpu", out=str(tmp_path / "run"))
    names = {field.name for field in dataclasses.fields(METHODS[name].config_class)}
    folder = fit(name, config, {k: v for k, v in TINY.items() if k in names}, fast_dev_run=True)
    assert (tmp_path / "run" / "samples" / "epoch_000.png").is_file()
    loaded = load_model(folder)
    assert type(loaded) is METHODS[name] and not loaded.training
    # save -> load gives identical outputs
    model = tiny(name).eval()
    model.save_pretrained(tmp_path / "saved")
    again = load_model(tmp_path / "saved")
    data = batch()
    first = model.paint(full_inputs(model, data, model.prepare(data["sketch"])))
    second = again.paint(full_inputs(again, data, again.prepare(data["sketch"])))
    assert torch.equal(first, second)


# ----------------------------------------------------------------------------- the Colorizer agrees


def _request(kind: str, guidance: Guidance) -> Request:
    red = (1.0, 0.0, 0.0)
    hints = {"regions": Hints(regions=(red,)), "points": Hints(points=(Point(x=0.3, y=0.3, color=red),)),
             "tags": Hints(tags=(guidance.tags[0] if guidance.tags else "red",)), "style": Hints(style=1),
             "scribbles": Hints(scribbles=(Scribble(points=((0.1, 0.1), (0.9, 0.9))),))}.get(kind, Hints())
    reference = torch.rand(3, 20, 20) if kind == "reference" or "reference" in guidance.required else None
    return Request(hints=hints, reference=reference)


@pytest.mark.parametrize("name", MODELS)
def test_the_colorizer_accepts_exactly_what_the_model_declares(name):
    model = build(name)
    colorizer = Colorizer(model, size=SIZE)
    guidance = colorizer.guidance
    sketch = (batch()["sketch"][0] * 255).to(torch.uint8)
    for kind in GUIDANCE_KINDS:
        request = _request(kind, guidance)
        if guidance.accepts(kind):
            result = colorizer.colorize(sketch, request=request)
            assert result.image.shape == (3, SIZE, SIZE)
        else:
            with pytest.raises(GuidanceError, match=f"model {name} takes no .*; it takes: {guidance.describe()}"):
                colorizer.colorize(sketch, request=request)
    for kind in guidance.required:  # a required kind left out
        with pytest.raises(GuidanceError, match=f"model {name} needs {GUIDANCE_KINDS[kind]}"):
            colorizer.colorize(sketch)
    if not guidance.required:
        assert colorizer.colorize(sketch).image.shape == (3, SIZE, SIZE)  # no guidance at all is fine


def test_unknown_tags_name_the_closest_known_ones():
    from tinct.guidance import check_request

    guidance = Guidance(tags=("hair_brown", "hair_blonde", "yellow"))
    check_request(Request(hints=Hints(tags=("yellow",))), guidance, "tagger")
    with pytest.raises(GuidanceError, match="model tagger has no tag 'hair_brwn'; closest known: hair_brown"):
        check_request(Request(hints=Hints(tags=("hair_brwn",))), guidance, "tagger")
    with pytest.raises(ValueError, match="required kinds"):
        Guidance(points=True, required=("reference",))


# ----------------------------------------------------------------------------- scaling out


@pytest.mark.parametrize("name", TRAINABLE)
def test_ddp_on_two_cpu_processes_keeps_them_in_step(name, tmp_path):
    """``--devices 2 --strategy ddp`` (gloo): a few steps in two processes; their parameters
    stay identical (gradients averaged per step) and training changed them."""
    names = {field.name for field in dataclasses.fields(METHODS[name].config_class)}
    overrides = [f"model.{k}={v}" for k, v in TINY.items() if k in names]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.run([sys.executable, str(ROOT / "tests" / "scripts" / "ddp_probe.py"), name,
                              str(tmp_path), *overrides], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert ranks[0]["head"] == ranks[1]["head"] and ranks[0]["sum"] == ranks[1]["sum"]
    assert ranks[0]["changed"] > 0
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
