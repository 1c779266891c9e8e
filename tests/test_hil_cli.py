"""`neurophys hil`: end to end through the real command line, and its error paths."""
import json
import os
import subprocess
import sys

from pathlib import Path

import pytest

from neurophys import ir
from neurophys.cli import main
from neurophys.ir import builders
from neurophys.ir.dataset import Dataset
from neurophys.ir.training import Training

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def graph_file(tmp_path):
    g = builders.resistor_network(4, 3, 0, family="circuit_ep", beta=1e-4, dataset=Dataset("iris"),
                                  training=Training(batch_size=8))
    path = tmp_path / "circuit.json"
    ir.save(g, path)
    return path


def test_json_summary_on_stdout(graph_file, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    p = subprocess.run([sys.executable, "-m", "neurophys.cli", "hil", str(graph_file), "--backend", "reference",
                        "--steps", "3", "--out", str(out), "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s == json.loads((out / "summary.json").read_text())
    assert s["backend"] == "reference" and s["mode"] == "train" and s["steps"] == 3
    assert s["cosine"]["min"] >= 0.9999
    assert f"in {out}/" in p.stderr and "agreement.png" in p.stderr
    assert len((out / "log.jsonl").read_text().splitlines()) == 3


def test_table_names_every_coupling_and_the_global_row(graph_file, tmp_path, capsys):
    assert main(["hil", str(graph_file), "--steps", "2", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    for row in ("k_in_out", "k_gnd_out", "GLOBAL", "vs reference engine", "invariant drift", "accuracy train/test"):
        assert row in out


def test_stat_and_sweep_from_the_command_line(graph_file, tmp_path, capsys):
    assert main(["hil", str(graph_file), "--mode", "stat", "--steps", "3", "--out", str(tmp_path / "a"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stat"]["passed"] is True
    assert main(["hil", str(graph_file), "--mode", "sweep", "--values", "1e-4,1e-2", "--steps", "1",
                 "--out", str(tmp_path / "b"), "--json"]) == 0
    assert [r["value"] for r in json.loads(capsys.readouterr().out)["sweep"]["results"]] == [1e-4, 1e-2]


def _fails(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_a_malformed_file_gives_the_field_path(graph_file, tmp_path, capsys):
    doc = json.loads(graph_file.read_text())
    doc["rule"]["lr"] = -1
    graph_file.write_text(json.dumps(doc))
    err = _fails(["hil", str(graph_file), "--out", str(tmp_path / "run")], capsys)
    assert err.startswith("error: rule.lr:")
    assert not (tmp_path / "run").exists()


def test_unknown_backend_lists_the_installed_ones(graph_file, capsys):
    err = _fails(["hil", str(graph_file), "--backend", "nope"], capsys)
    assert "'nope' is not installed" in err and "reference" in err


@pytest.mark.parametrize("argv, field", [
    (["--values", "1e-3,abc", "--mode", "sweep"], "--values: 'abc' is not a number"),
    (["--steps", "0"], "steps: 0 must be a positive integer"),
    (["--mode", "bogus"], "mode: 'bogus' is not a mode (expected one of train, stat, sweep)"),
    (["--board", "socket://127.0.0.1:9"], "board: backend 'reference' does not drive a board"),
])
def test_bad_options_are_named(graph_file, tmp_path, capsys, argv, field):
    err = _fails(["hil", str(graph_file), "--out", str(tmp_path / "run"), *argv], capsys)
    assert err.startswith(f"error: {field}")


def test_a_missing_board_port_is_named_without_a_traceback(tmp_path):
    p = subprocess.run([sys.executable, "-m", "neurophys.cli", "hil", str(EXAMPLES / "cl_iris.json"), "--backend", "crossbar",
                        "--board", "/dev/ttyNOPE0", "--steps", "1", "--out", str(tmp_path / "run")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert p.stderr.startswith("error: board /dev/ttyNOPE0:") and "cannot open board port" in p.stderr


def test_an_out_path_that_is_a_file_is_refused(graph_file, tmp_path, capsys):
    f = tmp_path / "taken"
    f.write_text("keep me")
    assert main(["hil", str(graph_file), "--steps", "1", "--out", str(f)]) == 2
    assert capsys.readouterr().err.startswith(f"error: out: {f} exists and is not a folder")
    assert f.read_text() == "keep me"


def test_model_serves_the_embedded_emulator_with_those_devices(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["hil", str(EXAMPLES / "cl_iris.json"), "--backend", "crossbar", "--model", "reram", "--reads", "2",
                 "--steps", "2", "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    assert "17x3 reram devices" in captured.err
    board = json.loads(captured.out)["board"]
    assert board["board"]["model"] == "reram" and board["reads_per_measurement"] == 2


@pytest.mark.parametrize("argv, message", [
    (["--backend", "crossbar", "--model", "reram", "--board", "socket://127.0.0.1:9"],
     "--model: the device model is the embedded emulator's"),
    (["--backend", "crossbar", "--model", "nope"], "--model: device model 'nope': not a preset"),
    (["--model", "reram"], "model: backend 'reference' runs no board emulator"),
    (["--reads", "4"], "--reads: backend 'reference' reads no conductances back"),
    (["--backend", "crossbar", "--reads", "0"], "reads: 0 must be an integer in 1..64"),
])
def test_bad_board_options_are_named(tmp_path, capsys, argv, message):
    err = _fails(["hil", str(EXAMPLES / "cl_iris.json"), "--steps", "1", "--out", str(tmp_path / "run"), *argv], capsys)
    assert err.splitlines()[-1].startswith(f"error: {message}")  # (after the note that the emulator was served)
    assert not (tmp_path / "run").exists()
