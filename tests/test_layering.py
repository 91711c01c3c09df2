"""DESIGN §2: imports point down only, and the array-generic layers never import torch at module level."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "hybrid_deblur"

# lowest first; a module may import its own layer or any layer listed before it
LAYERS = [
    {"backend", "io", "metrics"},
    {"psf", "kernel_banks"},
    {"physics"},
    {"solvers"},
    {"estimate"},
    {"learned"},
    {"analysis"},
    {"pipeline"},
    {"cli"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _layer_of(path: Path) -> str:
    rel = path.relative_to(PKG).parts
    return rel[0].removesuffix(".py")


def _imported_layers(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    depth = len(path.relative_to(PKG).parts) - 1  # 0 for top-level modules
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the package
                up = node.level - 1
                if up < depth:
                    parts = list(path.relative_to(PKG).parts[: depth - up])
                    target = parts[0] if parts else (node.module or "").split(".")[0]
                else:
                    target = (node.module or "").split(".")[0]
                    if not target:  # `from .. import backend as B`
                        for alias in node.names:
                            yield alias.name, node.lineno
                        continue
                yield target, node.lineno
            elif node.module and node.module.startswith("hybrid_deblur."):
                yield node.module.split(".")[1], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("hybrid_deblur."):
                    yield alias.name.split(".")[1], node.lineno


@pytest.mark.parametrize("path", sorted(p for p in PKG.rglob("*.py") if "kernel_banks" not in p.parts),
                         ids=lambda p: str(p.relative_to(PKG)))
def test_imports_point_down(path):
    own = _layer_of(path)
    if own not in RANK:
        return  # package __init__ / __main__
    bad = [(t, ln) for t, ln in _imported_layers(path) if t in RANK and RANK[t] > RANK[own]]
    assert not bad, f"{path.relative_to(PKG)} ({own}) imports higher layers: {bad}"


def test_array_generic_layers_do_not_import_torch():
    code = ("import sys, hybrid_deblur.physics, hybrid_deblur.solvers, hybrid_deblur.estimate, "
            "hybrid_deblur.psf, hybrid_deblur.metrics, hybrid_deblur.io; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
