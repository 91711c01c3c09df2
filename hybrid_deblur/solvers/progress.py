"""Run diagnostics of the iterative solvers: a tqdm progress bar and a wall-clock timer.

Examples
--------
>>> from hybrid_deblur.solvers.progress import Timer, progress_bar
>>> bar = progress_bar(3, False, "demo"); bar.update(1); bar.close()
>>> Timer()() >= 0
True
"""

from __future__ import annotations

import time

__all__ = ["Timer", "progress_bar"]


class _Null:
    def update(self, n=1):
        pass

    def set_postfix(self, **kw):
        pass

    def close(self):
        pass


def progress_bar(total: int | None, enable: bool, desc: str):
    """A tqdm bar when ``enable`` (else a no-op object with ``update``/``close``)."""
    if enable:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, leave=False)
    return _Null()


class Timer:
    """``Timer()()`` = seconds since construction."""

    def __init__(self):
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.t0
