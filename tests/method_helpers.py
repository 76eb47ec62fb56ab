"""Helpers shared by the method tests (imported by name: pytest puts tests/ on sys.path)."""

import torch


def random_batch(seed=0, size=32):
    """A training batch of two random sketches and colour images."""
    generator = torch.Generator().manual_seed(seed)
    return {"sketch": torch.rand(2, 1, size, size, generator=generator),
            "color": torch.rand(2, 3, size, size, generator=generator)}


def calibrated(model, batch):
    """Eval mode with BatchNorm statistics of ``batch``: with fresh statistics (mean 0, var 1)
    an N(0, 0.02)-initialised network outputs a near-constant image in eval mode."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average: one pass gives the batch statistics
    model.train()
    with torch.no_grad():
        model.colorize(batch["sketch"])
    return model.eval()
