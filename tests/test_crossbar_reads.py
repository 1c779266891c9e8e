"""Averaged read-backs: the read noise of a measurement shrinks as 1/√reads, so an update measured as
the difference of two reads is not swamped by the ADC when it is a pulse or two."""
import numpy as np
import pytest

from neurophys.backends.crossbar import CrossbarBackend
from neurophys.backends.crossbar.link import BoardLink
from neurophys.firmware_interface.emulator import reram
from neurophys.ir.errors import ValidationError

SHAPE = (16, 16)


def _read_twice(reads: int) -> np.ndarray:
    link = BoardLink.open(f"emu://?model=reram&rows={SHAPE[0]}&cols={SHAPE[1]}&timing=0&noise_seed={reads}", reads=reads)
    try:
        return (link.read_window(SHAPE) - link.read_window(SHAPE)).ravel()
    finally:
        link.close()


@pytest.mark.parametrize("reads", [1, 16])
def test_the_difference_of_two_averaged_reads_has_the_expected_spread(reads):
    sigma = reram.periphery.read_noise * reram.periphery.g_fullscale  # one read's noise, S
    expected = sigma * np.sqrt(2 / reads)                             # of the difference of two means
    d = _read_twice(reads)
    n = d.size
    # the sample std of n normal values has a relative standard error of about 1/√(2(n−1))
    assert abs(d.std(ddof=1) / expected - 1) <= 4 / np.sqrt(2 * (n - 1))


@pytest.mark.parametrize("reads", [0, -1, 65, 2.0, True])
def test_reads_out_of_range_are_refused_before_the_board_is_opened(reads):
    with pytest.raises(ValidationError, match=r"^reads: .* must be an integer in 1\.\.64"):
        CrossbarBackend(board="/dev/ttyNOPE0", reads=reads)
