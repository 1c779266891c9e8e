"""The twin is the board as it is: on a board larger than the resistor network, the devices on the
unused lines conduct, and the harness's twin models them (issue 16: cl_iris on a 32×32 board)."""
from __future__ import annotations

from pathlib import Path

from neurophys import ir
from neurophys.hil import open_backend
from neurophys.hil.harness import run

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_cl_iris_on_a_32x32_board_matches_the_reference(tmp_path):
    g = ir.load(EXAMPLES / "cl_iris.json")
    with open_backend("crossbar", graph=g, notify=lambda m: None, emulator={"model": "ideal", "rows": 32, "cols": 32}) as b:
        s = run(g, b, "train", 20, tmp_path / "run", eval_every=20, progress=False)
    assert s["board"]["layout"]["parasitic_cells"] == 45  # 15 unused rows × 3 output columns
    assert s["reference_rel_error"]["max"] <= 0.01, s["reference_rel_error"]
