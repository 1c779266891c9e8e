"""pytest plugin for HIL tests: `pytest --np-board URL -m hil` runs a lab's HIL tests against a real
board; without --np-board the `hil_board` fixture serves the embedded emulator on a pty instead, so
the same tests run everywhere.

It loads in every pytest run of an environment where neurophys is installed, so everything it adds
carries the project's prefix (`--np-board`, `np_board_url`): a lab's own `--board` option or
`board_url` fixture keeps working beside it."""
from __future__ import annotations

import pytest

from .backends import EMULATOR


def pytest_addoption(parser):
    group = parser.getgroup("neurophys", "neurophys hardware-in-the-loop tests")
    group.addoption("--np-board", default=None, metavar="URL",
                    help="HIL tests: the board to test (/dev/ttyACM0, socket://HOST:PORT); default: the emulator")


def pytest_configure(config):
    config.addinivalue_line("markers", "hil: hardware-in-the-loop test (--np-board URL for a real board, else the emulator)")


@pytest.fixture(scope="session")
def np_board_url(request) -> str | None:
    """The --np-board URL, or None (tests then use the emulator)."""
    return request.config.getoption("--np-board")


@pytest.fixture(scope="session")
def hil_board(np_board_url):
    """A board URL that works: the given one, or the embedded emulator served on a pty."""
    if np_board_url is not None:
        yield np_board_url
        return
    from neurophys.firmware_interface import serve_pty

    with serve_pty(**EMULATOR) as server:
        yield server.path
