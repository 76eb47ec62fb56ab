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
