"""Results of the non-blind harness: per-case rows, per-method summary, markdown/JSON/CSV.

Examples
--------
>>> from hybrid_deblur.analysis.nonblind_results import NonblindResults
>>> r = NonblindResults(rows=[{"method": "m", "case": "a", "psnr": 30.0, "ssim": 0.9,
...                            "time_s": 0.1}], config={})
>>> r.summary()["m"]["mean_psnr"]
30.0
"""

from __future__ import annotations

import csv
import io as _io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["NonblindResults", "to_jsonable", "write_text_atomic"]


@dataclass
class NonblindResults:
    """Per-case rows and the per-method summary of one benchmark run.

    ``rows`` is a list of dicts (one per case and method: ``method``, ``case``, ``psnr``,
    ``ssim``, ``time_s``, chosen parameters, extra case fields). ``config`` records the
    protocol (noise, boundary, seed, tuning, ...).

    Examples
    --------
    >>> from hybrid_deblur.analysis.nonblind_results import NonblindResults
    >>> r = NonblindResults(rows=[{"method": "m", "case": "a", "psnr": 31.0, "ssim": 0.9,
    ...                            "time_s": 0.2}], config={})
    >>> r.summary()["m"]["n"]
    1
    """

    rows: list[dict]
    config: dict
    tuned: dict = field(default_factory=dict)

    def methods(self) -> list[str]:
        seen: list[str] = []
        for r in self.rows:
            if r["method"] not in seen:
                seen.append(r["method"])
        return seen

    def summary(self) -> dict[str, dict]:
        """``method -> {n, mean/min PSNR, mean/min SSIM, mean time, ...}``."""
        out = {}
        for m in self.methods():
            rs = [r for r in self.rows if r["method"] == m]
            p = np.array([r["psnr"] for r in rs], dtype=float)
            s = np.array([r["ssim"] for r in rs], dtype=float)
            t = np.array([r["time_s"] for r in rs], dtype=float)
            d = {"n": len(rs), "mean_psnr": float(np.mean(p)), "min_psnr": float(np.min(p)),
                 "mean_ssim": float(np.mean(s)), "min_ssim": float(np.min(s)),
                 "mean_time_s": float(np.mean(t)), "n_nonfinite": int(sum(not r.get("finite", True) for r in rs))}
            er = [r["error_ratio"] for r in rs if r.get("error_ratio") is not None]
            if er:
                er = np.array(er, dtype=float)
                d.update(mean_error_ratio=float(np.mean(er)), max_error_ratio=float(np.max(er)),
                         success_le2=float(np.mean(er <= 2)), success_le3=float(np.mean(er <= 3)))
            if m in self.tuned:
                d["tuned"] = self.tuned[m]
            out[m] = d
        return out

    def markdown(self, title: str | None = None) -> str:
        """Markdown table: mean/min PSNR and SSIM, time per image, per method."""
        summ = self.summary()
        has_er = any("mean_error_ratio" in d for d in summ.values())
        aligned = self.config.get("aligned")
        pl = "aligned PSNR" if aligned else "PSNR"
        sl = "aligned SSIM" if aligned else "SSIM"
        head = ["method", "n", f"mean {pl} (dB)", f"min {pl}", f"mean {sl}", f"min {sl}", "time/img (s)"]
        if has_er:
            head += ["mean err. ratio", "≤2", "≤3"]
        head.append("parameters")
        lines = []
        if title:
            lines += [f"### {title}", ""]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for m, d in summ.items():
            row = [m, str(d["n"]), f"{d['mean_psnr']:.2f}", f"{d['min_psnr']:.2f}",
                   f"{d['mean_ssim']:.4f}", f"{d['min_ssim']:.4f}", f"{d['mean_time_s']:.3f}"]
            if has_er:
                row += ([f"{d['mean_error_ratio']:.2f}", f"{100 * d['success_le2']:.0f}%",
                         f"{100 * d['success_le3']:.0f}%"] if "mean_error_ratio" in d else ["", "", ""])
            tuned = d.get("tuned")
            row.append("" if not tuned else _fmt_tuned(tuned))
            lines.append("| " + " | ".join(row) + " |")
        for m, why in (self.config.get("skipped") or {}).items():
            lines.append(f"\n(skipped {m}: {why})")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict:
        return {"config": self.config, "summary": self.summary(), "rows": self.rows,
                "markdown": self.markdown()}

    def write_json(self, path: str | os.PathLike) -> None:
        """Summary + config + rows as JSON (atomic)."""
        write_text_atomic(path, json.dumps(to_jsonable(self.to_dict()), indent=1, allow_nan=True))

    def write_csv(self, path: str | os.PathLike) -> None:
        """One row per case and method (atomic)."""
        keys: list[str] = []
        for r in self.rows:
            for k in r:
                if k not in keys:
                    keys.append(k)
        buf = _io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in self.rows:
            w.writerow({k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in r.items()})
        write_text_atomic(path, buf.getvalue())

    def write_markdown(self, path: str | os.PathLike, title: str | None = None) -> None:
        write_text_atomic(path, self.markdown(title))


def _fmt_tuned(t: dict) -> str:
    parts = []
    for k, v in t.items():
        if k in ("tuning", "grid"):
            continue
        if isinstance(v, list):
            parts.append(f"{k}∈{{{', '.join(f'{x:g}' for x in sorted(set(v)))}}}")
        else:
            parts.append(f"{k}={v:.3g}" if isinstance(v, (int, float)) else f"{k}={v}")
    return ", ".join(parts) + (f" ({t['tuning']})" if "tuning" in t else "")


def to_jsonable(o):
    """``o`` with NumPy scalars/arrays turned into Python values and non-finite floats into None.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.analysis.nonblind_results import to_jsonable
    >>> to_jsonable({"a": np.float32(1.5), "b": [np.int64(2), float("inf")]})
    {'a': 1.5, 'b': [2, None]}
    """
    if isinstance(o, dict):
        return {str(k): to_jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [to_jsonable(v) for v in o]
    if isinstance(o, (np.floating, float)):
        v = float(o)
        return v if math.isfinite(v) else None
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return to_jsonable(o.tolist())
    return o


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (:func:`hybrid_deblur.io.atomic_write`);
    the parent folder is created if needed.

    Examples
    --------
    >>> import os, tempfile
    >>> from hybrid_deblur.analysis.nonblind_results import write_text_atomic
    >>> p = os.path.join(tempfile.mkdtemp(), "sub", "t.md")
    >>> write_text_atomic(p, "| a |")
    >>> open(p).read()
    '| a |'
    """
    from ..io import atomic_write

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w") as f:
        f.write(text)
