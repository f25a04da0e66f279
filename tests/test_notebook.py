"""notebooks/report.ipynb runs top to bottom on a scan of the bundled sample (kernel from this venv)."""

from __future__ import annotations

import sys

import nbclient
import nbformat
from click.testing import CliRunner
from conftest import REPO

from scanner.cli import cli

NOTEBOOK = REPO / "notebooks" / "report.ipynb"


def test_notebook_is_stored_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_notebook_runs_on_the_sample(tmp_path, monkeypatch, sample_dir):
    out = tmp_path / "scan-out"
    result = CliRunner().invoke(cli, ["scan", str(sample_dir), "--out", str(out), "--annotate", "--workers", "1"])
    assert result.exit_code == 0, result.output

    # The kernel inherits this environment: the scan to read, and Jupyter/IPython state kept out of $HOME.
    monkeypatch.setenv("SCAN_OUT", str(out))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))  # which Python ran it
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",  # the ipykernel spec: jupyter_client starts it with sys.executable
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell

    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 4, "the four charts"
    first = "".join(o.get("text", "") for o in notebook.cells[1].outputs)
    assert str(out) in first and "annotations: yes" in first
    assert notebook.cells[-1].outputs[0]["text"].strip() == sys.executable
