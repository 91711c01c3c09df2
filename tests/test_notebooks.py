"""Every teaching notebook in ``notebooks/`` executes without error (nbclient, kernel python3).

Skips cleanly when nbformat / nbclient / ipykernel are not installed
(``pip install -e ".[notebooks]"`` or ``make notebooks``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(p for p in NOTEBOOKS_DIR.glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)

_missing = [m for m in ("nbformat", "nbclient", "ipykernel") if importlib.util.find_spec(m) is None]
pytestmark = pytest.mark.skipif(bool(_missing), reason=f"notebook tools missing: {_missing}")


@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks found")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_valid_and_clean(path):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path.name} has no code cells"
    assert all(not c.outputs for c in code), f"{path.name} is committed with outputs"
    builder = path.with_name(f"_build_{path.stem}.py")
    if builder.exists():  # the generated notebook is in sync with its builder script
        spec = importlib.util.spec_from_file_location(f"_nb_builder_{path.stem}", builder)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        fresh = nbformat.reads(nbformat.writes(nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_markdown_cell(t) if k == "md" else nbformat.v4.new_code_cell(t)
            for k, t in mod.CELLS])), as_version=4)
        assert [c.source for c in fresh.cells] == [c.source for c in nb.cells], (
            f"{path.name} differs from {builder.name}: run `python {builder.relative_to(path.parents[1])}`")


@pytest.mark.slow
@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks found")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("HYBRID_DEBLUR_FFT_WORKERS", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellExecutionError as exc:  # pragma: no cover - the message is the useful part
        pytest.fail(f"{path.name} failed:\n{exc}")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    figures = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
               if o.output_type == "display_data" and "image/png" in o.data]
    assert figures, f"{path.name} produced no figures"
