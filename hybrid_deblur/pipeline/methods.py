"""The method registry, re-exported for users (it lives in :mod:`hybrid_deblur.analysis.registry`).

Examples
--------
>>> from hybrid_deblur.pipeline.methods import get_method
>>> get_method("wiener").__name__
'wiener'
"""

from ..analysis.registry import METHODS, available_methods, get_method, restore

__all__ = ["METHODS", "available_methods", "get_method", "restore"]
