"""What a newcomer meets first: --version, `backends`, help texts that list the backends and end their
sentences, the gradcheck table's wording, the training progress bar on a terminal (a real pty)
and plain lines in a log, and the README tour writing nothing outside runs/."""
from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
from importlib.metadata import version
from pathlib import Path

import pytest

from neurophys.cli import build_parser, main
from neurophys.commands import UNDEFINED
from neurophys.plugins import registered

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "neurophys.cli"]
# a help text that stops on one of these words stopped mid-sentence ("…or print what a")
DANGLING = {"a", "an", "the", "or", "and", "of", "to", "with", "for", "in", "on", "by", "at", "what", "which",
            "that", "is", "are", "be", "from", "as", "than", "its", "their"}


def cli(*args, **kw):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, **kw)


def test_version_is_the_installed_one():
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"neurophys {version('neurophys')}"


def _parsers(parser, path=("neurophys",)):
    yield " ".join(path), parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            summaries = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield f"{' '.join(path)} {name} (summary)", argparse.Namespace(description=summaries.get(name))
                yield from _parsers(sub, (*path, name))


def _ends_properly(text: str | None) -> bool:
    words = (text or "").strip().split()
    return bool(words) and words[-1].lower() not in DANGLING and words[-1][-1] not in ",;:-(–—" \
        and text.count("(") == text.count(")")


def test_every_command_and_option_has_a_whole_help_sentence():
    bad = []
    for where, parser in _parsers(build_parser()):
        if not _ends_properly(parser.description):
            bad.append(f"{where}: description {parser.description!r}")
        for action in getattr(parser, "_actions", []):
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            if not _ends_properly(action.help):
                bad.append(f"{where} {'/'.join(action.option_strings) or action.dest}: {action.help!r}")
    assert not bad, "\n".join(bad)


def _help(*path: str) -> str:
    parser = build_parser()
    for name in path:
        parser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
    return " ".join(parser.format_help().split())


def test_board_help_ends_its_sentence_and_serve_explains_rows_and_cols():
    assert "or print what a board declares about itself." in _help("board")
    serve = _help("board", "serve")
    assert re.search(r"--rows ROWS crossbar rows", serve) and re.search(r"--cols COLS crossbar columns", serve)


def test_backend_help_lists_every_registered_backend():
    text = _help("hil")
    names = [ep.name for ep in registered("neurophys.backends")]
    assert {"reference", "crossbar", "loihi", "brian"} <= set(names)
    listed = re.search(r"--backend BACKEND registered backend: (.*?) \(default: reference\)", text).group(1)
    assert [n.strip() for n in listed.split(",")] == names  # all installed here (make venv installs [all])


def test_a_backend_whose_extra_is_missing_is_named_with_that_extra(tmp_path):
    """A real distribution on the path registers a backend needing an extra whose requirement is not
    installed: help lists it apart with the extra, and asking for it says what to pip install."""
    info = tmp_path / "ghostboard-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ghostboard\nVersion: 0.1\nProvides-Extra: chip\n"
                                   'Requires-Dist: no-such-distribution-np18>=1; extra == "chip"\n')
    (info / "entry_points.txt").write_text("[neurophys.backends]\nghost = ghostboard:GhostBackend [chip]\n\n"
                                           "[neurophys.nir_simulators]\nghost = ghostboard:simulate [chip]\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    text = " ".join(cli("hil", "--help", env=env).stdout.split())
    assert "not installed: ghost (ghostboard[chip])" in text
    assert "ghost," not in text.split("not installed")[0]  # not among the installed ones
    r = cli("hil", str(ROOT / "examples" / "ep_xor.json"), "--backend", "ghost", env=env)
    assert r.returncode == 2 and "pip install 'ghostboard[chip]'" in r.stderr and "Traceback" not in r.stderr
    table = cli("backends", env=env).stdout
    assert re.search(r"^ghost +not installed: pip install 'ghostboard\[chip\]'$", table, re.M)
    r = cli("nir", "run", "in.nir", "--input", "in.npy", "--dt", "1e-4", "--out", "out.npy", "--backend", "ghost",
            env=env, cwd=tmp_path)
    assert r.returncode == 2 and "--backend: 'ghost' is not installed: pip install 'ghostboard[chip]'" in r.stderr
    assert "not installed: ghost (ghostboard[chip])" in " ".join(cli("nir", "run", "--help", env=env).stdout.split())


def test_backends_lists_each_with_the_families_it_runs():
    from neurophys.backend import get_backend

    r = cli("backends")
    assert r.returncode == 0, r.stderr
    rows = dict(line.split(None, 1) for line in r.stdout.splitlines()[1:])
    assert list(rows) == [ep.name for ep in registered("neurophys.backends")]
    for name, families in rows.items():
        assert families == ", ".join(get_backend(name).families)


def test_gradcheck_says_undefined_where_the_exact_gradient_is_zero(examples_dir, capsys):
    assert main(["gradcheck", str(examples_dir / "ep_xor.json")]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert rows["W1"].split(None, 1)[1] == UNDEFINED and "inf" not in out
    assert re.match(r"W2( +[0-9.]+){4}$", rows["W2"])  # the others keep their figures
    assert out.count("exactly zero on this batch") == 1 and "saturated" in out
    assert main(["gradcheck", str(examples_dir / "least_action_mlp.json")]) == 0
    assert "undefined" not in capsys.readouterr().out  # said only where it happens


def _train_on_a_pty(graph: Path) -> str:
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal's 24×100 size
    p = subprocess.Popen([*CLI, "train", str(graph), "--epochs", "20"], stdin=subprocess.DEVNULL,
                         stdout=terminal, stderr=terminal)
    os.close(terminal)
    out = b""
    try:
        while chunk := os.read(controller, 4096):
            out += chunk
    except OSError:  # EIO: the child closed the terminal
        pass
    finally:
        os.close(controller)
    assert p.wait(timeout=60) == 0
    return out.decode(errors="replace")


def test_train_draws_one_bar_on_a_terminal_and_plain_lines_in_a_log(examples_dir):
    text = _train_on_a_pty(examples_dir / "ep_xor.json")
    assert "\r" in text and "batch/s" in text and "train ep_xor: 100%" in text
    assert "epoch   1" not in text and "final: train accuracy" in text
    r = cli("train", str(examples_dir / "ep_xor.json"), "--epochs", "20")
    assert r.returncode == 0 and "\r" not in r.stdout + r.stderr and "batch" not in r.stderr
    lines = r.stdout.splitlines()
    assert [int(line.split()[1]) for line in lines[:-1]] == list(range(1, 21)) and lines[-1].startswith("final:")


def _tour() -> list[list[str]]:
    """The README tour's commands, comments dropped."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## A five-minute tour", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].split() for line in block.splitlines() if line.startswith("neurophys ")]


CHEAP = ("backends", "validate", "gradcheck", "train", "nir")  # the hil/board ones run minutes or need a second terminal


def test_the_tour_writes_nothing_outside_runs(tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    before = {p for p in tmp_path.rglob("*")}
    ran = []
    for argv in _tour():
        if argv[1] in CHEAP:
            r = cli(*argv[1:], *(["--epochs", "3"] if argv[1] == "train" else []), cwd=tmp_path)  # files, not accuracy
            assert r.returncode == 0, f"{' '.join(argv)}: {r.stderr}"
            ran.append(argv[1])
    assert set(ran) == set(CHEAP)
    stray = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
             if p not in before and p.relative_to(tmp_path).parts[0] != "runs"]
    assert not stray and (tmp_path / "runs").is_dir()
    assert "runs/" in (ROOT / ".gitignore").read_text().split()


@pytest.mark.slow
def test_the_tour_hil_commands_write_under_runs_too(tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    before = {p for p in tmp_path.rglob("*")}
    for argv in _tour():
        if argv[1] == "hil" and "--board" not in argv:
            steps = argv.index("--steps") + 1
            r = cli(*argv[1:steps], "2", *argv[steps + 1:], cwd=tmp_path)
            assert r.returncode == 0, f"{' '.join(argv)}: {r.stderr}"
    assert all(p.relative_to(tmp_path).parts[0] == "runs" for p in tmp_path.rglob("*") if p not in before)
