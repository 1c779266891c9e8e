"""A run continues only on the target it started on: the backend's identity (a board's uid, boot
count and state digest) is recorded after every step and compared before the next one, and on
resume; a board that was swapped, rebooted or changed by someone else in between is refused."""
from __future__ import annotations

from neurophys.ir.errors import ValidationError


class TargetChanged(ValidationError):
    """The target's identity differs from the one recorded; the message names each field that moved."""


def compare_identity(recorded: dict | None, current: dict | None) -> None:
    """Raise :class:`TargetChanged` if ``current`` differs from ``recorded`` (None: nothing to compare)."""
    if recorded is None:
        return
    if current is None:
        raise TargetChanged("board", "the run was recorded on a target with an identity; this one reports none")
    moved = [f"{k} {recorded.get(k)!r} -> {current.get(k)!r}" for k in sorted(set(recorded) | set(current))
             if recorded.get(k) != current.get(k)]
    if moved:
        raise TargetChanged("board", "the target changed underneath the run (" + ", ".join(moved) + "); refusing "
                                     "to continue on it")


class IdentityGuard:
    """``before_step()`` checks the target is still the one seen after the last step (or the one a
    resumed run recorded); ``after_step()`` records it again. Two HELLO round trips per step."""

    def __init__(self, backend, recorded: dict | None = None) -> None:
        self.backend = backend
        self.last = recorded if recorded is not None else backend.identity()

    def before_step(self) -> None:
        compare_identity(self.last, self.backend.identity())

    def after_step(self) -> dict | None:
        self.last = self.backend.identity()
        return self.last
