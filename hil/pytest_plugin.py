"""pytest plugin for HIL tests: `pytest --board URL -m hil` runs a lab's HIL tests against a real
board; without --board the `hil_board` fixture serves the embedded emulator on a pty instead, so
the same tests run everywhere."""
from __future__ import annotations

import pytest

from .backends import EMULATOR


def pytest_addoption(parser):
    parser.addoption("--board", default=None, metavar="URL",
                     help="HIL tests: the board to test (/dev/ttyACM0, socket://HOST:PORT); default: the emulator")


def pytest_configure(config):
    config.addinivalue_line("markers", "hil: hardware-in-the-loop test (--board URL for a real board, else the emulator)")


@pytest.fixture(scope="session")
def board_url(request) -> str | None:
    """The --board URL, or None (tests then use the emulator)."""
    return request.config.getoption("--board")


@pytest.fixture(scope="session")
def hil_board(board_url):
    """A board URL that works: the given one, or the embedded emulator served on a pty."""
    if board_url is not None:
        yield board_url
        return
    from firmware_interface import serve_pty

    with serve_pty(**EMULATOR) as server:
        yield server.path
