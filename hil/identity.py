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
    resumed run recorded); ``after_step()`` records it again. A target without an identity
    (``identity()`` is None: simulators) costs nothing; a board costs two HELLO round trips a step."""

    def __init__(self, backend, recorded: dict | None = None) -> None:
        self.backend = backend
        current = backend.identity()
        compare_identity(recorded, current)  # resuming: the board must be the one the run left
        self.last = current

    def before_step(self) -> None:
        if self.last is not None:
            compare_identity(self.last, self.backend.identity())

    def after_step(self) -> dict | None:
        if self.last is not None:
            self.last = self.backend.identity()
        return self.last


class GuardedBackend:
    """The backend as the harness drives it: every learning step (``step``, ``learn``) is preceded
    by the identity check and followed by a new record (``guard.last``: what a run folder keeps so
    that ``--resume`` can pass it back as ``recorded``). Everything else is the backend's own."""

    def __init__(self, backend, recorded: dict | None = None, on_record=None) -> None:
        self.backend = backend
        self.guard = IdentityGuard(backend, recorded)
        self.on_record = on_record  # called with each new record (a run folder keeps the last one)

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def _after(self) -> None:
        identity = self.guard.after_step()
        if self.on_record is not None:
            self.on_record(identity)

    def step(self, x, y):
        self.guard.before_step()
        out = self.backend.step(x, y)
        self._after()
        return out

    def learn(self, x, y):
        self.guard.before_step()
        self.backend.learn(x, y)
        self._after()

    def compile(self, graph) -> None:
        """Compiling programs the board: record its state again."""
        self.backend.compile(graph)
        self._after()

    def set_params(self, params) -> None:
        """Writing parameters changes the board's state: record it again (a resumed run starts so)."""
        self.backend.set_params(params)
        self._after()
