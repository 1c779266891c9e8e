"""Brian2 set-up shared by both twins: the lazy import, the code-generation target, the time map,
and `Target` — where a network's arrays live and how a run is launched on that target.

Time map: one IR time unit is one millisecond of Brian time. Every unit's time constant is
`TAU` = 1 ms and the simulation clock's dt is `rule.relaxation.dt` ms, so a Brian Euler step
`s + dt·f(s)/τ` is the reference engine's `s + dt_IR·f(s)` (equal up to float rounding).

Targets: 'numpy' and 'cython' run in this process (`Network.run`, variables written in place);
'cpp_standalone' generates and compiles a C++ program once (the first run) in a build folder
(a fresh temporary one unless `build_dir` is given; removed on `close()` if temporary), and every
later run re-executes that binary with the inputs and parameters passed as `run_args` — no code
generation or compilation per step. Each standalone network gets its own Brian standalone
device object (Brian's variables remember their device), active only while the network is
built, so several standalone networks — and runtime ones — can live side by side.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time

import numpy as np

from neurophys.ir.errors import ValidationError

TARGETS = ("numpy", "cython", "cpp_standalone")
SEED_ENV = "NEUROPHYS_BRIAN_SEED"


def brian(codegen: str = "numpy"):
    """Import brian2 (≈2 s, so only when a twin is compiled) with `codegen` (one of TARGETS) as its target."""
    try:
        import brian2
    except ImportError as exc:  # pragma: no cover - the extra is installed in the dev venv
        raise ValidationError("backend", f"brian2 is not importable ({exc}); install neurophys[brian]") from None
    if type(brian2.get_device()).__name__ != "RuntimeDevice":
        brian2.set_device("runtime")
    if codegen != "cpp_standalone":
        brian2.prefs.codegen.target = codegen
    return brian2


def time_unit(b):
    """The Brian duration of one IR time unit."""
    return b.ms


def _key(view) -> str:
    return f"{view.group_name}.{view.name}"


class Target:
    """Reads, writes and runs for one network. Variables are passed as Brian `VariableView`s
    without units (`group.var_`)."""

    def __init__(self, b, codegen: str, build_dir: str | None = None):
        self.b, self.codegen = b, codegen
        self.standalone = codegen == "cpp_standalone"
        self.closed = False
        self.net = None
        self.built = False
        self.duration = None
        self.args: dict[str, tuple] = {}   # standalone: key → (view, value) passed as run_args
        self.fresh: set[str] = set()       # standalone: keys written since the last run
        self.inputs: set[str] = set()      # standalone: run_args files of the last run (kept while reused)
        self.held: set[str] = set()        # standalone: keys the program never changes (parameters)
        self.views: dict = {}              # standalone: key → unit-ful view (the run_args key)
        self.cache: dict[str, np.ndarray] = {}  # standalone: result files read since the last run
        self.runs = 0
        self.seed0 = None
        self.compile_s = None
        self.own_dir = self.standalone and build_dir is None
        self.dir = (tempfile.mkdtemp(prefix="neurophys-brian-") if self.own_dir else build_dir) if self.standalone else None
        self.device = None
        if self.standalone:
            from brian2.devices.cpp_standalone.device import CPPStandaloneDevice
            from brian2.devices.device import reset_device

            self.device, self.reset_device = CPPStandaloneDevice(), reset_device
            b.set_device(self.device, build_on_run=False)  # the network's objects are created on it

    def attach(self, net) -> None:
        self.net = net

    def set(self, view, values, held: bool = False) -> None:
        """Write a whole variable (a full-length array). `held`: the program only reads it (a
        parameter), so after a run it still holds what was passed — no result file to read back."""
        if not self.standalone:
            view[:] = values
            return
        value = np.array(values, dtype=view.dtype)
        value.setflags(write=False)
        self.args[_key(view)] = (view, value)
        self.fresh.add(_key(view))
        if held:
            self.held.add(_key(view))

    def drop(self, view) -> None:
        """Standalone: stop passing a variable, so the program's own initial value applies again."""
        self.args.pop(_key(view), None)
        self.fresh.discard(_key(view))

    def get(self, view) -> np.ndarray:
        """A whole variable. Standalone: what was written since the last run (the run_args file the
        binary will load at its next run) or a held variable's value, else what the binary wrote at
        the end of its last run."""
        key = _key(view)
        if not self.standalone:
            return np.asarray(view[:], float)
        if (key in self.fresh or key in self.held or not self.built) and key in self.args:
            value = self.args[key][1]  # read-only
            return value if value.dtype == float else value.astype(float)
        if key not in self.cache:  # Brian re-reads the file on every access
            self.cache[key] = np.asarray(view[:], float)
        return self.cache[key]

    def put(self, view, idx: np.ndarray, values) -> None:
        """Write `values` (broadcast to idx's shape) at an index array of any shape."""
        values = np.broadcast_to(np.asarray(values, float), idx.shape).ravel()
        if not self.standalone:
            view[idx.ravel()] = values
            return
        full = np.array(self.get(view))
        full[idx.ravel()] = values
        self.set(view, full, held=_key(view) in self.held)

    def take(self, view, idx: np.ndarray) -> np.ndarray:
        """Read a variable at an index array of any shape (a copy)."""
        if not self.standalone:
            return np.asarray(view[idx.ravel()], float).reshape(idx.shape)
        return self.get(view)[idx.ravel()].reshape(idx.shape)

    def seed(self, seed: int) -> None:
        """Seed the spike noise; in standalone every run gets its own seed (seed, run number)."""
        self.seed0 = seed
        if not self.standalone:
            self.b.seed(seed)
            return
        threads = max(1, self.b.prefs.devices.cpp_standalone.openmp_threads)
        self.device.insert_code("main", f"for (int _i=0; _i<{threads}; _i++) brian::_random_generators[_i]"
                                  f".seed(atol(getenv(\"{SEED_ENV}\")) + _i);")

    def run(self, duration) -> None:
        """Run the network for `duration`; standalone: build on the first call, then re-run the binary."""
        b = self.b
        if not self.standalone:
            self.net.run(duration, namespace={})
            return
        if self.closed:
            raise ValidationError("backend", "this cpp_standalone network was closed")
        if not self.built:
            t0 = time.perf_counter()
            self.duration = duration
            try:
                self.net.run(duration, namespace={})
                self.device.build(directory=self.dir, compile=True, run=False, with_output=False)
            finally:
                self.reset_device()  # back to the device that was active before this network
            self.built = True
            self.compile_s = time.perf_counter() - t0
        elif abs(float(duration - self.duration)) > 1e-15:
            raise ValueError(f"the standalone program runs {self.duration}; asked for {duration}")
        if self.seed0 is not None:
            self.device.run_environment_variables[SEED_ENV] = str(self.seed0 * 1_000_003 + self.runs)
        args = {self._unitful(view): value for view, value in self.args.values()}
        self.device.run(run_args=args, with_output=False)
        used = set(self.device.run_args_arrays)  # input files are named by content: unchanged ones are reused
        for name in self.inputs - used:  # the previous run's input files this run did not reuse
            for path in (name, name + ".lock"):
                path = os.path.join(self.dir, "static_arrays", path)
                if os.path.exists(path):
                    os.remove(path)
        self.inputs = used
        self.fresh.clear()
        self.cache.clear()
        self.runs += 1

    def _unitful(self, view):
        """The unit-ful view run_args takes as a key for a unitless one (made once: each attribute
        access on a Brian group builds a new view)."""
        key = _key(view)
        if key not in self.views:
            self.views[key] = getattr(view.variable.owner, view.name)
        return self.views[key]

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.standalone:
            if self.b.get_device() is self.device:  # closed before its build finished
                self.reset_device()
            if self.own_dir and self.dir:
                shutil.rmtree(self.dir, ignore_errors=True)
