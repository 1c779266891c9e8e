"""Run folders are never clobbered; a run that is stopped or loses its board still leaves its
summary and plots; a resumed run continues exactly where its checkpoint was; refusals create
nothing. Through the real command line (subprocesses, real signals, a real TCP board)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import neurophys.hil as hil
from neurophys import ir
from neurophys.cli import main
from neurophys.ir import builders
from neurophys.ir.dataset import Dataset
from neurophys.ir.training import Training

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ENV = {**os.environ, "MPLBACKEND": "Agg"}


def circuit():
    return builders.resistor_network(4, 3, 0, family="circuit_ep", beta=1e-4, dataset=Dataset("iris"),
                                     training=Training(batch_size=8))


@pytest.fixture
def graph_file(tmp_path):
    path = tmp_path / "circuit.json"
    ir.save(circuit(), path)
    return path


def _hil(*args):
    return [sys.executable, "-m", "neurophys.cli", "hil", *map(str, args)]


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _wait_for(cond, proc, timeout=60.0):
    end = time.monotonic() + timeout
    while not cond():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_an_existing_run_is_refused_unless_resumed_or_forced(graph_file, tmp_path, capsys):
    out = tmp_path / "run"
    with hil.open_backend("reference") as b:
        hil.run(ir.load(graph_file), b, "train", 4, out, eval_every=2, progress=False, plot=False,
                command={"board": None, "model": None})  # what the command line records
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(before) == {"run.json", "log.jsonl", "checkpoint.npz", "summary.json"}
    assert main(["hil", str(graph_file), "--steps", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: out: {out} holds a run already: --resume continues it, --force replaces it\n"
    # resume refuses other options (only --steps may change) and a run that is long enough already
    assert main(["hil", str(graph_file), "--steps", "6", "--eval-every", "2", "--k", "3", "--out", str(out),
                 "--resume"]) == 2
    assert capsys.readouterr().err == f"error: resume: the run in {out} was made with k = 4.0, not 3.0 (only --steps may change)\n"
    assert main(["hil", str(graph_file), "--steps", "4", "--out", str(out), "--resume", "--eval-every", "2"]) == 2
    assert "has 4 steps already" in capsys.readouterr().err
    assert main(["hil", str(graph_file), "--steps", "2", "--out", str(out), "--resume", "--force"]) == 2
    assert "exclude each other" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # every refusal left it untouched
    with hil.open_backend("reference") as b:
        s = hil.run(ir.load(graph_file), b, "train", 1, out, progress=False, plot=False, force=True)
    assert s["steps"] == 1 and _lines(out / "log.jsonl") == 1 and int(np.load(out / "checkpoint.npz")["step"]) == 1


def test_a_folder_with_other_files_is_not_taken_even_with_force(graph_file, tmp_path, capsys):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    assert main(["hil", str(graph_file), "--steps", "1", "--out", str(other), "--force"]) == 2
    assert "holds other files and no run" in capsys.readouterr().err
    assert os.listdir(other) == ["notes.txt"]


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    """The reference backend is deterministic: 4 steps, then resumed to 8, must log exactly what 8
    steps in one go log (same batches, θ from the checkpoint, the twin from it too)."""
    g = circuit()
    with hil.open_backend("reference") as b:
        hil.run(g, b, "train", 4, tmp_path / "a", eval_every=2, progress=False, plot=False)
    with hil.open_backend("reference") as b:
        resumed = hil.run(g, b, "train", 8, tmp_path / "a", eval_every=2, progress=False, plot=False, resume=True)
    with hil.open_backend("reference") as b:
        straight = hil.run(g, b, "train", 8, tmp_path / "b", eval_every=2, progress=False, plot=False)
    logs = [[json.loads(x) for x in (tmp_path / d / "log.jsonl").read_text().splitlines()] for d in "ab"]
    assert [r["step"] for r in logs[0]] == list(range(8))
    strip = lambda r: {k: v for k, v in r.items() if k != "time_s"}
    assert [strip(r) for r in logs[0]] == [strip(r) for r in logs[1]]
    assert resumed["status"] == straight["status"] == "completed" and resumed["resumed_at"] == 4
    assert resumed["steps"] == 8 and resumed["twin"] == straight["twin"] and resumed["loss"] == straight["loss"]
    assert json.loads((tmp_path / "a" / "run.json").read_text())["resumed"][0]["at_step"] == 4


def test_sigint_ends_the_run_with_a_summary_and_resume_continues_it(graph_file, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(_hil(graph_file, "--steps", "100000", "--eval-every", "3", "--out", out),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        _wait_for(lambda: _lines(out / "log.jsonl") >= 7, proc)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "interrupted" and s["steps"] == _lines(out / "log.jsonl") >= 7
    assert f"in {out}/" in stderr and "--resume" in stderr
    assert (out / "agreement.png").read_bytes()[:4] == b"\x89PNG"
    done = int(np.load(out / "checkpoint.npz")["step"])
    assert done % 3 == 0 and done >= 6
    with hil.open_backend("reference") as b:  # as `--resume --steps done+2` does, without drawing the plots again
        s = hil.run(ir.load(graph_file), b, "train", done + 2, out, eval_every=3, progress=False, plot=False,
                    resume=True, command={"board": None, "model": None})
    assert s["status"] == "completed" and s["steps"] == done + 2 and s["resumed_at"] == done
    steps = [json.loads(x)["step"] for x in (out / "log.jsonl").read_text().splitlines()]
    assert steps == list(range(done + 2))  # the steps after the checkpoint were measured again, once


def test_a_board_lost_mid_run_leaves_a_failed_summary(tmp_path):
    server = subprocess.Popen([sys.executable, "-m", "neurophys.cli", "board", "serve", "--tcp", "0",
                               "--rows", "17", "--cols", "3"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = tmp_path / "run"
    proc = None
    try:
        url = server.stdout.readline().strip()
        proc = subprocess.Popen(_hil(EXAMPLES / "cl_iris.json", "--backend", "crossbar", "--board", url, "--steps",
                                     "100000", "--eval-every", "2", "--out", out),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
        _wait_for(lambda: _lines(out / "log.jsonl") >= 3, proc)
        server.terminate()
        server.wait(timeout=20)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        for p in (server, proc):
            if p is not None:
                p.kill()
                p.wait()
        server.stdout.close()
    assert proc.returncode == 2 and "Traceback" not in stderr, stderr
    assert stderr.startswith(f"error: board {url}: ") and f"is in {out}/" in stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "failed" and s["steps"] >= 3 and s["steps"] == _lines(out / "log.jsonl")
    assert (out / "agreement.png").exists()


@pytest.mark.parametrize("argv, says", [
    (["--backend", "crossbar", "--steps", "1"], "rule.family: backend 'crossbar' runs"),      # pc_alm on a crossbar
    (["--backend", "nope"], "backend: 'nope' is not installed"),
])
def test_refusals_create_nothing(tmp_path, argv, says, capsys):
    out = tmp_path / "deep" / "run"
    assert main(["hil", str(EXAMPLES / "pc_alm_tanh.json"), "--out", str(out), *argv]) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "deep").exists()


def test_a_refusal_from_inside_the_mode_removes_the_folder_it_made(graph_file, tmp_path, capsys):
    # coupled learning has η to sweep, circuit EP β; pc_alm has neither: refused when the mode starts
    out = tmp_path / "run"
    assert main(["hil", str(EXAMPLES / "pc_alm_tanh.json"), "--mode", "sweep", "--out", str(out)]) == 2
    assert "sweep varies β" in capsys.readouterr().err
    assert not out.exists()
