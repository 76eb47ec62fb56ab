"""Train a method with ``--devices 2 --strategy ddp`` on CPU (gloo) and record, per process,
a fingerprint of the trained parameters, so a test can check that the processes stayed in
step (their gradients were averaged) and that training changed the weights.

Run as a script (Lightning's DDP launcher starts the second process by running this file
again): ``python tests/scripts/ddp_probe.py METHOD OUT [model.KEY=VALUE ...]``.
"""

import json
import sys
from pathlib import Path

import lightning as L
import torch

from tinct.train import TrainConfig, fit, parse_assignments


class Fingerprint(L.Callback):
    def __init__(self, out: Path):
        self.out = out
        self.start = None

    @staticmethod
    def _vector(module) -> torch.Tensor:
        return torch.cat([p.detach().float().reshape(-1).cpu() for p in module.method.parameters()])

    def on_train_start(self, trainer, module):
        self.start = self._vector(module)

    def on_train_end(self, trainer, module):
        end = self._vector(module)
        record = {"rank": trainer.global_rank, "world_size": trainer.world_size, "sum": float(end.double().sum()),
                  "abs_sum": float(end.double().abs().sum()), "changed": float((end - self.start).abs().max()),
                  "head": end[:16].tolist()}
        (self.out / f"rank{trainer.global_rank}.json").write_text(json.dumps(record))


def main() -> None:
    method, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    overrides = parse_assignments(sys.argv[3:])["model"]
    config = TrainConfig(size=32, batch_size=2, limit=8, epochs=1, samples=2, checkpoint_every=100, accelerator="cpu",
                         devices=2, strategy="ddp", out=str(out / "run"))
    fit(method, config, overrides, callbacks=(Fingerprint(out),))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
