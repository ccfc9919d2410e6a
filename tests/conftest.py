"""Fixtures shared by the test files."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch


@pytest.fixture
def rng() -> np.random.Generator:
    """A NumPy generator with a fixed seed, fresh for every test."""
    return np.random.default_rng(20240117)


@pytest.fixture
def torch_single_thread() -> Iterator[None]:
    """Run the test with one torch thread, restoring the previous count after it.

    Small models train 10-30 times slower with two threads than with one when the
    cores are shared with other processes, because the threads wait on each other.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
