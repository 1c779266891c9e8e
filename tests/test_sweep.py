"""`neurophys sweep`: SPEC refusals name the key before anything runs; a serial sweep writes one run
folder per configuration plus sweep.json/csv/png, retries and records failures, and re-running
skips completed runs; a local 2-worker Ray gives the same per-run summaries as the serial sweep."""
import csv
import json
import sys
from pathlib import Path

import pytest

from neurophys.cli import main

EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "cl_iris.json")
MISSING_BOARD = "/dev/np-sweep-no-such-board"  # a physical board URL: a Ray resource, a run that fails


def write_spec(tmp_path, **spec) -> str:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"graph": EXAMPLE, "backend": "crossbar", "steps": 2, "eval_every": 2, **spec}))
    return str(path)


def sweep(capsys, *argv) -> tuple[int, str]:
    rc = main(["sweep", *map(str, argv)])
    return rc, capsys.readouterr().err


def comparable(summary: dict) -> dict:
    """A summary without what may differ between two executions of the same run: wall times, folder."""
    s = dict(summary, out=None)
    s["time_s"] = {k: v for k, v in s["time_s"].items() if k != "wall"}
    return s


@pytest.mark.parametrize("spec, named", [
    ({"grid": {"rule.nonexistent": [1]}}, "grid.rule.nonexistent: 1: the graph has no field 'rule.nonexistent'"),
    ({"grid": {"rule.lr": [0.1, -1.0]}}, "grid.rule.lr: -1.0: "),
    ({"grid": {"sed": [0]}}, "grid.sed: 'sed' is neither a dotted graph field"),
    ({"grid": {"reads": ["many"]}}, "grid.reads: 'many': argument --reads: invalid int value"),
    ({"grid": {"model": ["ideal", "granite"]}}, "grid.model: 'granite': device model 'granite'"),
    ({"backend": "nope", "grid": {}}, "backend: 'nope': 'nope' is not installed"),
    ({"out": "x", "grid": {}}, "out: cannot be set by a sweep"),
    ({"grid": {"resume": [True]}}, "grid.resume: cannot be set by a sweep"),
    ({"grid": {"seed": []}}, "grid.seed: must be a non-empty list"),
    ({"seed": 1, "grid": {"seed": [0]}}, "grid.seed: is also set outside the grid"),
    ({"hw": "yes", "grid": {}}, "hw: 'yes': --hw is a switch"),
])
def test_spec_refusals_name_the_key_and_create_nothing(tmp_path, capsys, spec, named):
    rc, err = sweep(capsys, write_spec(tmp_path, **spec), "--serial", "--out", tmp_path / "out")
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {named}"), err
    assert not (tmp_path / "out").exists()


def test_an_unreachable_ray_head_is_refused_at_once(tmp_path, capsys):
    pytest.importorskip("ray")
    rc, err = sweep(capsys, write_spec(tmp_path, grid={}), "--ray", "127.0.0.1:1", "--out", tmp_path / "out")
    assert rc == 2 and err.startswith("error: --ray: 127.0.0.1:1: no Ray head answers there")
    assert not (tmp_path / "out").exists()


def test_serial_sweep_folders_tables_retries_and_rerun(tmp_path, capsys):
    spec = write_spec(tmp_path, grid={"rule.eta": [0.05, 0.1], "board": [None, MISSING_BOARD]})
    out = tmp_path / "sweep"
    rc, err = sweep(capsys, spec, "--serial", "--out", out, "--retries", "1")
    assert rc == 1 and "2 of 4 runs completed" in err
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [r["rule.eta"] for r in rows] == ["0.05", "0.05", "0.1", "0.1"]
    assert [r["status"] for r in rows] == ["completed", "failed", "completed", "failed"]
    assert [r["attempts"] for r in rows] == ["1", "2", "1", "2"]
    assert MISSING_BOARD in rows[1]["error"] and rows[0]["error"] == ""
    assert float(rows[0]["cosine"]) > 0.99 and 0 <= float(rows[0]["test_accuracy"]) <= 1
    # the graph field reached the run: each folder's graph and summary are the configuration's
    for eta in ("0.05", "0.1"):
        folder = out / f"rule.eta={eta}_board=null"
        assert json.loads((folder / "graph.json").read_text())["rule"]["eta"] == float(eta)
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["out"] == str(folder) and summary["steps"] == 2
        assert {"agreement.png", "log.jsonl"} <= {p.name for p in folder.iterdir()}
    assert (out / "sweep.png").stat().st_size > 0
    assert json.loads((out / "sweep.json").read_text())["runs"][1]["status"] == "failed"

    # re-running into the same folder runs only what did not complete
    stamp = (out / "rule.eta=0.05_board=null" / "summary.json").stat().st_mtime_ns
    rc, err = sweep(capsys, spec, "--serial", "--out", out, "--retries", "0")
    assert rc == 1 and "2 of 4 runs already completed" in err and "2 runs on serial" in err
    assert (out / "rule.eta=0.05_board=null" / "summary.json").stat().st_mtime_ns == stamp
    reused = json.loads((out / "sweep.json").read_text())["runs"][0]
    assert reused["reused"] and reused["metrics"]["cosine"] == float(rows[0]["cosine"])

    # a completed run of other settings under the same name is refused, not reused or overwritten
    rc, err = sweep(capsys, write_spec(tmp_path, steps=3, grid={"rule.eta": [0.05, 0.1], "board": [None, MISSING_BOARD]}), "--serial", "--out", out)
    assert rc == 2 and "holds a completed run of other settings" in err


def test_without_ray_the_sweep_runs_serially_with_a_notice(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError, as when it is not installed
    rc, err = sweep(capsys, write_spec(tmp_path, grid={"seed": [3]}), "--out", tmp_path / "out")
    assert rc == 0
    assert err.count("Ray is not installed") == 1 and "1 run on serial (this process)" in err
    assert json.loads((tmp_path / "out" / "seed=3" / "summary.json").read_text())["steps"] == 2
    rc, err = sweep(capsys, write_spec(tmp_path, grid={"seed": [3]}), "--ray", "localhost:1", "--out", tmp_path / "x")
    assert rc == 2 and "--ray: Ray is not installed" in err


def test_ray_two_workers_gives_the_serial_summaries(tmp_path, capsys):
    pytest.importorskip("ray")
    spec = write_spec(tmp_path, grid={"model": ["ideal", "reram"], "board": [None, MISSING_BOARD]})
    rc, _ = sweep(capsys, spec, "--serial", "--out", tmp_path / "serial", "--retries", "1")
    assert rc == 1
    rc, err = sweep(capsys, spec, "--workers", "2", "--out", tmp_path / "ray", "--retries", "1")
    assert rc == 1 and "runs on local Ray, 2 workers" in err
    serial, ray = (json.loads((tmp_path / d / "sweep.json").read_text())["runs"] for d in ("serial", "ray"))
    assert [(r["name"], r["status"], r["attempts"], r["error"]) for r in serial] == \
           [(r["name"], r["status"], r["attempts"], r["error"]) for r in ray]
    completed = [r["name"] for r in serial if r["status"] == "completed"]
    assert len(completed) == 2 and all("board=null" in n for n in completed)
    for name in completed:
        a, b = (json.loads((tmp_path / d / name / "summary.json").read_text()) for d in ("serial", "ray"))
        assert comparable(a) == comparable(b), name


@pytest.mark.slow
def test_cluster_boards_are_resources_of_the_hosts_that_declare_them(tmp_path, capsys):
    """A two-node Ray cluster on this machine: the second node declares a board. Runs that need
    it are scheduled there (they fail: the port is not there, which the record says); a board no
    node declares is refused before anything runs."""
    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1, resources={f"board:{MISSING_BOARD}": 1})
        cluster.wait_for_nodes()
        spec = write_spec(tmp_path, grid={"seed": [0, 1], "board": [None, MISSING_BOARD]})
        rc, err = sweep(capsys, spec, "--ray", cluster.address, "--out", tmp_path / "farm", "--retries", "0")
        assert rc == 1 and f"runs on Ray cluster at {cluster.address}" in err
        rows = json.loads((tmp_path / "farm" / "sweep.json").read_text())["runs"]
        assert [r["status"] for r in rows] == ["completed", "failed"] * 2
        assert all(MISSING_BOARD in r["error"] for r in rows[1::2])

        other = write_spec(tmp_path, grid={"board": ["/dev/np-sweep-undeclared"]})
        rc, err = sweep(capsys, other, "--ray", cluster.address, "--out", tmp_path / "none")
        assert rc == 2 and "board: /dev/np-sweep-undeclared: no host of the Ray cluster declares it" in err
        assert not (tmp_path / "none").exists()
    finally:
        cluster.shutdown()
