"""Files appear whole, with the umask's mode, and damaged inputs are named; every JSON the project
prints is standard (null, never NaN/Infinity); a metric with no value is reported as such."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from neurophys import ir
from neurophys.atomic import replacing
from neurophys.standard_json import dumps


def cli(*args):
    return subprocess.run([sys.executable, "-m", "neurophys.cli", *args], capture_output=True, text=True, timeout=120)


def test_replacing_leaves_the_old_file_on_failure_and_no_temporary(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with replacing(target) as fh:
            fh.write("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["f.txt"]
    with replacing(target) as fh:
        fh.write("new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["f.txt"]


def test_saved_graphs_get_the_umask_mode(tmp_path, examples_dir):
    old = os.umask(0o022)
    try:
        out = tmp_path / "g.json"
        ir.save(ir.load(examples_dir / "ep_digits.json"), out)
    finally:
        os.umask(old)
    assert oct(out.stat().st_mode & 0o777) == oct(0o644)
    assert oct(out.with_suffix(".npz").stat().st_mode & 0o777) == oct(0o644)


def test_a_failed_replace_names_the_target_not_the_temporary(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()  # os.replace cannot put a file over a folder
    with pytest.raises(IsADirectoryError) as exc:
        with replacing(target) as fh:
            fh.write("x")
    assert exc.value.filename == str(target) and ".tmp" not in str(exc.value)
    assert os.listdir(tmp_path) == ["taken"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_folder_is_named_not_the_temporary(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError) as exc:
            with replacing(folder / "f.json") as fh:
                fh.write("x")
    finally:
        folder.chmod(0o755)
    assert exc.value.filename == str(folder / "f.json")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_train_save_into_an_unwritable_place_is_refused_before_training(tmp_path, examples_dir):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        r = cli("train", str(examples_dir / "ep_xor.json"), "--epochs", "1000000", "--save", str(folder / "t.json"))
    finally:
        folder.chmod(0o755)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == f"error: {folder / 't.json'}: not writable"  # one line, before a million epochs


def test_train_save_into_a_missing_folder_or_under_a_file_is_refused_before_training(tmp_path, examples_dir):
    (tmp_path / "file").write_text("")
    for target, says in ((tmp_path / "nope" / "t.json", "nope/t.json: the folder to write into does not exist"),
                         (tmp_path / "file" / "t.json", "file: is not a folder")):
        r = cli("train", str(examples_dir / "ep_xor.json"), "--epochs", "1000000", "--save", str(target))
        assert r.returncode == 2 and "Traceback" not in r.stderr and says in r.stderr, r.stderr


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty"])
def test_a_damaged_npz_sibling_is_named(tmp_path, examples_dir, damage):
    (tmp_path / "g.json").write_text((examples_dir / "ep_digits.json").read_text())
    data = bytearray((examples_dir / "ep_digits.npz").read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 3] ^= 0x01  # inside the first array's compressed bytes: a CRC mismatch
    else:
        data = b""
    (tmp_path / "g.npz").write_bytes(bytes(data))
    r = cli("validate", str(tmp_path / "g.json"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith(f"error: {tmp_path / 'g.npz'}: cannot read arrays, the file is damaged")


def test_dumps_writes_null_for_non_finite_values():
    text = dumps({"a": float("inf"), "b": np.float64("nan"), "c": [np.float32(1.5), -np.inf], "d": np.int64(3)})
    assert json.loads(text) == {"a": None, "b": None, "c": [1.5, None], "d": 3}


def test_gradcheck_json_is_standard_and_a_zero_gradient_is_undefined(examples_dir):
    # ep_xor's W1 has a zero exact gradient on the first batch (EP with β > 0 still moves it)
    r = cli("gradcheck", str(examples_dir / "ep_xor.json"), "--json")
    assert r.returncode == 0, r.stderr
    assert "Infinity" not in r.stdout and "NaN" not in r.stdout
    w1 = json.loads(r.stdout)["params"]["W1"]
    assert w1["cosine"] is None and w1["rel_error"] is None and w1["sign_error"] is None
    assert w1["nrmse"] == 1.0
    r = cli("gradcheck", str(examples_dir / "ep_xor.json"))
    assert r.returncode == 0 and "undefined" in r.stdout.splitlines()[2]


def _strict(text: str):
    """Python's json accepts NaN/Infinity; a standard parser does not."""
    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")
    return json.loads(text, parse_constant=refuse)


def test_hil_logs_undefined_steps_as_null_and_counts_them_in_the_summary(examples_dir, tmp_path):
    import neurophys.hil as hil

    g = ir.load(examples_dir / "ep_xor.json")
    with hil.open_backend("reference") as b:
        hil.run(g, b, "train", 4, tmp_path, progress=False, plot=False)
    log = [_strict(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    summary = _strict((tmp_path / "summary.json").read_text())
    nulls = sum(r["global"]["cosine"] is None for r in log)
    w1 = sum(r["params"]["W1"]["cosine"] is None for r in log)
    assert w1 > 0  # W1's exact gradient is zero on some batches
    assert summary["cosine"]["undefined"] == nulls and summary["rel_error"]["undefined"] == nulls
    defined = [r["global"]["cosine"] for r in log if r["global"]["cosine"] is not None]
    assert summary["cosine"]["median"] == pytest.approx(float(np.median(defined)))
    assert summary["undefined_per_parameter"]["W1"]["cosine"] == w1
