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


def check_gan_gradients(model, batch, loss, carry, *, discriminator_nonzero=True):
    """Back-propagate a generator loss and one discriminator step and check the gradients:
    every generator parameter gets a finite, non-zero one; after ``zero_grad`` the D step
    gives every discriminator parameter a finite one (non-zero unless told otherwise) and
    none reaches the generator (the fake is detached). Returns D's logs."""
    loss.backward()
    generator_parameters = model.generator_parameters()
    for parameter in generator_parameters:
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all()
        assert parameter.grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)
    loss_d, logs_d = model.discriminator_step(batch, carry)
    assert set(logs_d) == {"loss_d"} and logs_d["loss_d"] > 0
    loss_d.backward()
    for parameter in model.discriminator_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all()
        assert not discriminator_nonzero or parameter.grad.abs().sum() > 0
    assert all(p.grad is None for p in generator_parameters)  # fake was detached
    return logs_d
