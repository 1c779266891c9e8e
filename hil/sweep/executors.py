"""Where runs execute: in this process one after another, or as Ray tasks. A physical board is a
Ray custom resource `board:<URL>` of 1 on the host it is attached to, so a run that needs it is
scheduled on that host and never two at once; emulated boards need no resource and run anywhere."""
from __future__ import annotations

import logging
import socket
import time
from collections import deque

from neurophys.ir.errors import ValidationError

from .run import execute
from .spec import Configuration


def board_resource(url: str) -> str:
    return f"board:{url}"


def _reachable(address: str) -> None:
    """Refuse a HOST:PORT nobody listens on at once; Ray itself would retry for minutes."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # "auto", ray://… : Ray's own forms, left to Ray
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise ValidationError("--ray", f"{address}: no Ray head answers there ({exc.strerror or exc})") from None


class SerialExecutor:
    """Runs in this process, in submission order (a retry goes to the back of the queue)."""
    description = "serial (this process)"
    startup_s = 0.0

    def __init__(self):
        self._queue: deque = deque()

    def submit(self, config: Configuration):
        handle = object()
        self._queue.append((handle, config))
        return handle

    def next_done(self, handles) -> tuple[object, dict]:
        handle, config = self._queue.popleft()
        return handle, execute(config)

    def close(self) -> None:
        pass


class RayExecutor:
    """Ray tasks of one CPU each, on a local Ray started here (`workers` CPUs, the boards of the
    SPEC declared on this host) or on the cluster at `address`, whose hosts declare their boards."""

    def __init__(self, boards=(), workers: int | None = None, address: str | None = None):
        import ray

        self._ray = ray
        t0 = time.perf_counter()
        if address is None:
            ray.init(address="local", num_cpus=workers, resources={board_resource(b): 1 for b in boards},
                     include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
            self.description = f"local Ray, {workers} workers"
        else:
            _reachable(address)
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
            self.description = f"Ray cluster at {address}"
        self.startup_s = time.perf_counter() - t0
        have = ray.cluster_resources()
        missing = sorted(b for b in boards if board_resource(b) not in have)
        if missing:
            ray.shutdown()
            raise ValidationError("board", f"{missing[0]}: no host of the Ray cluster declares it (start that host "
                                           f"with ray start --resources '{{\"{board_resource(missing[0])}\": 1}}')")
        self._task = ray.remote(execute)

    def submit(self, config: Configuration):
        resources = {board_resource(config.board): 1} if config.board else {}
        return self._task.options(num_cpus=1, resources=resources, max_retries=0).remote(config)

    def next_done(self, handles) -> tuple[object, dict]:
        [ref], _ = self._ray.wait(list(handles), num_returns=1)
        try:
            return ref, self._ray.get(ref)
        except self._ray.exceptions.RayError as exc:  # the worker died, the node was lost, …
            line = next((ln for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
            return ref, {"error": f"ray: {line}", "files": {}, "host": None, "started": None, "wall_s": None}

    def close(self) -> None:
        self._ray.shutdown()
