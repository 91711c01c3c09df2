"""Shared helpers of the notebook builders (``notebooks/_build_*.py``).

A builder declares its cells with :func:`md` / :func:`code` / :func:`solution` on its own
:class:`Cells` list and writes the notebook (without outputs) with :func:`build`;
``tests/test_notebooks.py`` checks the stored notebook against the builder's ``CELLS``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

#: a code cell whose source is hidden in Jupyter (the exercises' solutions)
SOLUTION_META = {"tags": ["solution"], "jupyter": {"source_hidden": True}}


class Cells(list):
    """The cells of one notebook, as ``(kind, text)`` pairs (kind: "md", "code", "solution")."""

    def md(self, text: str) -> None:
        """Append a markdown cell."""
        self.append(("md", text.strip("\n")))

    def code(self, text: str) -> None:
        """Append a code cell."""
        self.append(("code", text.strip("\n")))

    def solution(self, text: str) -> None:
        """Append a code cell tagged ``solution`` whose source is hidden (collapsed)."""
        self.append(("solution", text.strip("\n")))


def make_cell(kind: str, text: str):
    """One nbformat cell from a ``(kind, text)`` pair."""
    if kind == "md":
        return new_markdown_cell(text)
    if kind == "solution":
        return new_code_cell(text, metadata=dict(SOLUTION_META))
    return new_code_cell(text)


def build(cells, path: Path) -> None:
    """Write ``cells`` as a validated notebook without outputs to ``path``.

    Cell ids are kept from the notebook already at ``path`` (position by position), and are
    ``cell-<n>`` for new cells, so that rebuilding an unchanged notebook rewrites it byte for
    byte.
    """
    old_ids: list[str] = []
    if path.exists():
        old_ids = [c.get("id", "") for c in nbformat.read(path, as_version=4).cells]
    nb_cells = [make_cell(k, t) for k, t in cells]
    for i, cell in enumerate(nb_cells):
        cell["id"] = old_ids[i] if i < len(old_ids) and old_ids[i] else f"cell-{i}"
    nb = new_notebook(cells=nb_cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(nb)
    path.write_text(nbformat.writes(nb), encoding="utf-8")
