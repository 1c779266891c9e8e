"""Installed, the project is one `neurophys` package: the repository's side-by-side folders
(backends/, firmware_interface/, hil/) go under it, nothing generic lands at the top of
site-packages, and the pytest plugin it installs leaves other projects' options alone."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import tomli

ROOT = Path(__file__).resolve().parents[1]
MAPPED = {"neurophys": "neurophys", "backends": "neurophys.backends",
          "firmware_interface": "neurophys.firmware_interface", "hil": "neurophys.hil"}


def _pyproject():
    return tomli.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_folder_is_listed_under_the_neurophys_name():
    listed = set(_pyproject()["packages"])
    on_disk = set()
    for folder, name in MAPPED.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            on_disk.add(".".join((name, *rel)))
    assert on_disk == listed


def test_wheel_has_only_the_neurophys_top_level(tmp_path):
    src = tmp_path / "src"  # setuptools builds in the source tree: build a copy, leave the checkout clean
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "build", "runs", "*.egg-info",
                                                               "__pycache__", ".pytest_cache", ".hypothesis"))
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                        "-w", str(tmp_path), str(src)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    (wheel,) = tmp_path.glob("neurophys-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"neurophys", wheel.name.split("-py")[0] + ".dist-info"}
    for must in ("neurophys/backends/crossbar/backend.py", "neurophys/hil/pytest_plugin.py",
                 "neurophys/firmware_interface/PROTOCOL.md"):
        assert must in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "= backends." not in text and "= hil." not in text and "= firmware_interface." not in text


LAB_CONFTEST = '''
def pytest_addoption(parser):
    parser.addoption("--board", default="lab-default")
'''
LAB_TEST = '''
def test_own_option(request):
    assert request.config.getoption("--board") == "mine"
'''


def test_plugin_leaves_a_projects_own_board_option_alone(tmp_path):
    (tmp_path / "conftest.py").write_text(LAB_CONFTEST)
    (tmp_path / "test_lab.py").write_text(LAB_TEST)
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--board", "mine",
                        "test_lab.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "1 passed" in p.stdout
