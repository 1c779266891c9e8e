"""`neurophys gradcheck` and `neurophys train` as a user runs them."""
import json
import subprocess
import sys

import pytest


def cli(*args):
    return subprocess.run([sys.executable, "-m", "neurophys.cli", *args], capture_output=True, text=True)


def test_gradcheck_json_schema_and_values(examples_dir):
    r = cli("gradcheck", str(examples_dir / "least_action_mlp.json"), "--batch", "8", "--json", "--fd")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert set(rep["params"]) == {"W1", "W2", "h1.bias", "out.bias"}
    for m in rep["params"].values():
        assert set(m) == {"cosine", "nrmse", "sign_error", "rel_error"}
    assert rep["global"]["cosine"] == pytest.approx(1.0, abs=1e-12)  # least action is exact
    assert max(rep["fd_rel_error"].values()) <= 1e-6


def test_gradcheck_table_reports_cl_against_both_costs(examples_dir):
    r = cli("gradcheck", str(examples_dir / "cl_iris.json"), "--batch", "8")
    assert r.returncode == 0, r.stderr
    assert "kron" in r.stdout and "vs the task (MSE) gradient" in r.stdout and "GLOBAL" in r.stdout


def test_train_xor_to_100_percent(examples_dir, tmp_path):
    out = tmp_path / "trained.json"
    r = cli("train", str(examples_dir / "ep_xor.json"), "--json", "--save", str(out))
    assert r.returncode == 0, r.stderr
    hist = json.loads(r.stdout.splitlines()[0])
    assert hist[-1]["train_accuracy"] == 1.0
    assert out.exists()


def test_bad_arguments_exit_2_without_traceback(examples_dir):
    r = cli("train", str(examples_dir / "ep_xor.json"), "--epochs", "0")
    assert r.returncode == 2 and "--epochs: 0 must be positive" in r.stderr and "Traceback" not in r.stderr
    r = cli("gradcheck", str(examples_dir / "nope.json"))
    assert r.returncode == 2 and "file not found" in r.stderr
