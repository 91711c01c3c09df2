"""Top of the stack: the method registry and the one entry point, :class:`Deblurrer`
(known kernel, blind with the no-harm guard, or end-to-end)."""

from .deblurrer import Deblurrer
from .methods import METHODS, available_methods, get_method, restore

__all__ = ["METHODS", "Deblurrer", "available_methods", "get_method", "restore"]
