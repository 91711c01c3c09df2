"""Shared fixtures: array backends (NumPy, torch, CuPy when a GPU exists) and data paths."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HYBRID_DEBLUR_FFT_WORKERS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

from hybrid_deblur.backend import gpu_available  # noqa: E402

#: ../shared/data next to the repository (tests that need it skip when it is absent)
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

BACKENDS = ["numpy", "torch", pytest.param("cupy", marks=pytest.mark.gpu)]


def to_backend(a, name: str):
    """Convert a NumPy array to the named backend."""
    if name == "numpy":
        return np.asarray(a)
    if name == "torch":
        import torch

        return torch.as_tensor(np.ascontiguousarray(a))
    if name == "cupy":
        import cupy

        return cupy.asarray(a)
    raise ValueError(name)


@pytest.fixture(params=BACKENDS)
def backend_name(request):
    """Every available array backend; CuPy only with a GPU."""
    if request.param == "cupy" and not gpu_available():
        pytest.skip("CuPy with a CUDA GPU is not available here")
    return request.param


@pytest.fixture
def data_dir():
    if not DATA.exists():
        pytest.skip(f"shared data not found at {DATA}")
    return DATA


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
