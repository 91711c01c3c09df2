"""Every module's Examples section runs (numpydoc examples are part of the documentation)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import hybrid_deblur

# every module, learned/ and cli/ included (issue 9: their examples are documentation too)
_SKIP_PREFIXES: tuple[str, ...] = ()


def _modules():
    out = []
    for info in pkgutil.walk_packages(hybrid_deblur.__path__, "hybrid_deblur."):
        if info.name.startswith(_SKIP_PREFIXES):
            continue
        out.append(info.name)
    return sorted(out)


@pytest.mark.parametrize("name", _modules())
def test_module_examples_run(name):
    mod = importlib.import_module(name)
    np.set_printoptions(legacy=False)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                          verbose=False, report=False)
    assert res.failed == 0, f"{res.failed} doctest example(s) failed in {name}"
