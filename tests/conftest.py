import os

import pytest
import torch

# Renders made by the tests go to a cache of their own, shared across the session.
os.environ.setdefault("TINCT_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".cache", "test-renders"))
# tiny tensors: one thread is much faster than two fighting over shared cores
torch.set_num_threads(1)


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(0)


class CLI:
    """Runs ``tinct`` in-process and checks a refusal: the exit status and the one-line message."""

    def __init__(self, capsys):
        self.capsys = capsys

    def fails(self, argv, match: str, *, code: int = 2) -> str:
        import re

        from tinct.cli import main

        self.capsys.readouterr()
        try:
            status = main([str(a) for a in argv])
        except SystemExit as exit:  # argparse's own usage errors
            status = exit.code
        err = self.capsys.readouterr().err
        assert status == code, f"exit {status}, expected {code}: {err}"
        assert re.search(match, err), f"{match!r} not in {err!r}"
        assert "Traceback" not in err
        return err


@pytest.fixture
def cli(capsys):
    return CLI(capsys)
