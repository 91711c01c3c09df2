"""Progress of long benchmark runs: a bar on a terminal, periodic lines otherwise, an estimate.

A run of hours must say so early and stay visible when stderr goes to a file or
a pipe (``bench nonblind ... 2> log``): :class:`Progress` shows a tqdm bar when
stderr is a terminal and otherwise writes one line every ``every`` seconds. In
both cases, after the first completed step it prints the measured time of that
step and the estimated total (``first case 2.1 s -> about 8 min for 240 runs``).

Examples
--------
>>> import io
>>> from hybrid_deblur.analysis.nonblind_progress import Progress
>>> buf = io.StringIO()
>>> with Progress(3, desc="demo", stream=buf, clock=iter([0.0, 2.0, 3.0, 4.0, 5.0]).__next__) as p:
...     for _ in range(3):
...         p.update(1)
>>> print(buf.getvalue().splitlines()[0])
demo: first step 2 s -> about 6 s for 3 steps
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress", "format_seconds"]


def format_seconds(s: float) -> str:
    """``42 s``, ``3.5 min`` or ``2.1 h``.

    Examples
    --------
    >>> from hybrid_deblur.analysis.nonblind_progress import format_seconds
    >>> format_seconds(42.0), format_seconds(210.0), format_seconds(7560.0)
    ('42 s', '3.5 min', '2.1 h')
    """
    if s < 90:
        return f"{s:.2g} s" if s < 10 else f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


class Progress:
    """Count steps of a run; bar on a terminal, periodic lines elsewhere, first-step estimate.

    Parameters
    ----------
    total : int
        Number of steps.
    desc : str
        Label at the start of every line.
    enabled : bool
        False: silent.
    every : float
        Seconds between two lines when the stream is not a terminal.
    stream : file, optional
        Where to write (default ``sys.stderr``).
    clock : callable, optional
        Time source (default :func:`time.monotonic`; tests pass a fake one).

    Examples
    --------
    >>> import io
    >>> from hybrid_deblur.analysis.nonblind_progress import Progress
    >>> out = io.StringIO()
    >>> with Progress(2, desc="run", stream=out, clock=iter([0.0, 1.0, 2.0]).__next__) as p:
    ...     p.update(); p.update()
    >>> out.getvalue().splitlines()
    ['run: first step 1 s -> about 2 s for 2 steps', 'run: 2/2 (100%), 2 s elapsed, about 0 s left']
    """

    def __init__(self, total: int, *, desc: str = "", enabled: bool = True, every: float = 30.0,
                 stream: TextIO | None = None, clock: Callable[[], float] | None = None):
        self.total = max(int(total), 0)
        self.desc = desc
        self.enabled = bool(enabled)
        self.every = float(every)
        self.stream = sys.stderr if stream is None else stream
        self.clock = time.monotonic if clock is None else clock
        self.n = 0
        self.t0 = self.clock()
        self._last = self.t0
        self._bar = None
        if self.enabled and self._isatty():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, desc=desc, leave=False, file=self.stream)

    def _isatty(self) -> bool:
        try:
            return bool(self.stream.isatty())
        except (AttributeError, ValueError):
            return False

    def _say(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def update(self, n: int = 1) -> None:
        """Record ``n`` finished steps."""
        if not self.enabled:
            self.n += n
            return
        first = self.n == 0
        self.n += n
        now = self.clock()
        if self._bar is not None:
            self._bar.update(n)
        if first and self.total > 1:
            dt = (now - self.t0) / max(n, 1)
            self._say(f"{self.desc}: first step {format_seconds(dt)} -> about "
                      f"{format_seconds(dt * self.total)} for {self.total} steps")
            self._last = now
        elif self._bar is None and (now - self._last >= self.every or self.n >= self.total):
            el = now - self.t0
            eta = el / self.n * (self.total - self.n) if self.n else 0.0
            pct = 100.0 * self.n / self.total if self.total else 100.0
            self._say(f"{self.desc}: {self.n}/{self.total} ({pct:.0f}%), "
                      f"{format_seconds(el)} elapsed, about {format_seconds(eta)} left")
            self._last = now

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
