"""Top of the stack: the method registry and the friendly ``Deblurrer`` entry point."""

from .methods import METHODS, available_methods, get_method, restore

__all__ = ["METHODS", "available_methods", "get_method", "restore"]
