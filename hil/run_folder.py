"""A run folder (`--out DIR`) holds one run: run.json (what was asked), log.jsonl (a line per
step), checkpoint.npz (where to resume: the step, the parameters read back from the target and the
twin's, written atomically at every evaluation), summary.json and the plots. An existing run is
never replaced unless asked (`force`) and can be continued (`resume`); nothing is created until the
run has passed every check, so a refusal leaves nothing behind."""
from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurophys.atomic import replacing
from neurophys.ir.errors import ValidationError
from neurophys.ir.io import NPZ_ERRORS
from neurophys.metrics import METRICS
from neurophys.standard_json import dumps

RUN, LOG, CHECKPOINT, SUMMARY = "run.json", "log.jsonl", "checkpoint.npz", "summary.json"
MARKERS = (RUN, LOG, SUMMARY)  # any of these makes a folder a run folder (older runs have no run.json)


@dataclass
class ResumePoint:
    step: int                      # steps done (and kept in the log)
    theta: dict[str, np.ndarray]   # the target's parameters after them, as read back
    twin: dict[str, np.ndarray]    # the twin's
    twin_start: float | None       # the twin's invariant at the run's start
    records: list[dict] = field(default_factory=list)


def default_out(graph, backend_name: str) -> Path:
    return Path("runs") / f"hil-{graph.name}-{backend_name}-{time.strftime('%Y%m%d-%H%M%S')}"


def refuse_existing(path, resume: bool = False, force: bool = False) -> None:
    """The checks that need nothing but the folder: cheap enough to run before a board is started."""
    path = Path(path)
    if resume and force:
        raise ValidationError("resume", "and --force exclude each other: continue the run or replace it")
    if path.exists() and not path.is_dir():
        raise ValidationError("out", f"{path} exists and is not a folder")
    has_run = path.is_dir() and any((path / m).exists() for m in MARKERS)
    if path.is_dir() and not has_run and any(path.iterdir()):
        raise ValidationError("out", f"{path} holds other files and no run; choose another --out")
    if has_run and not (resume or force):
        raise ValidationError("out", f"{path} holds a run already: --resume continues it, --force replaces it")
    if resume and not has_run:
        raise ValidationError("resume", f"{path} holds no run to resume")


def _undefined_back(obj):
    """Metrics logged as null (undefined) are NaN again in memory, as when they were measured."""
    if isinstance(obj, dict):
        if set(obj) == set(METRICS):
            return {k: math.nan if v is None else v for k, v in obj.items()}
        return {k: _undefined_back(v) for k, v in obj.items()}
    return obj


class RunFolder:
    def __init__(self, path, options: dict, resume: bool = False, force: bool = False):
        refuse_existing(path, resume, force)
        self.path, self.force, self.created = Path(path), force, False
        self.options = json.loads(dumps(options))  # as run.json holds them
        self.resume = self._resume_point() if resume else None

    def _resume_point(self) -> ResumePoint:
        try:
            old = json.loads((self.path / RUN).read_text(encoding="utf-8"))["options"]
        except (OSError, ValueError, KeyError, TypeError):
            raise ValidationError("resume", f"{self.path / RUN} is missing or damaged: this run cannot be "
                                              "resumed (--force replaces it)") from None
        for key in sorted(set(old) | set(self.options)):
            if key != "steps" and old.get(key) != self.options.get(key):
                raise ValidationError("resume", f"the run in {self.path} was made with {key} = {old.get(key)!r}, "
                                                  f"not {self.options.get(key)!r} (only --steps may change)")
        if self.options["mode"] != "train":
            raise ValidationError("resume", f"only train runs can be resumed; this one is {self.options['mode']!r}")
        ckpt = self.path / CHECKPOINT
        try:
            with np.load(ckpt, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except FileNotFoundError:
            raise ValidationError("resume", f"{ckpt} is missing: the run ended before its first evaluation; "
                                              "start it again with --force") from None
        except NPZ_ERRORS as exc:
            raise ValidationError(str(ckpt), f"damaged ({exc.__class__.__name__}: {exc})") from None
        step = int(arrays["step"])
        if step >= self.options["steps"]:
            raise ValidationError("steps", f"the run in {self.path} has {step} steps already; ask for more "
                                             "to continue it")
        part = lambda prefix: {k.split(":", 1)[1]: v for k, v in arrays.items() if k.startswith(prefix + ":")}
        start = float(arrays["twin_start"])
        return ResumePoint(step, part("theta"), part("twin"), None if math.isnan(start) else start,
                           self._logged(step))

    def _logged(self, step: int) -> list[dict]:
        """The first `step` records of the log (a line cut short by a crash is not one)."""
        records = []
        try:
            with open(self.path / LOG, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        r = json.loads(line)
                    except ValueError:
                        break
                    if r.get("step", step) < step:
                        records.append(_undefined_back(r))
        except OSError:
            pass
        if len(records) != step:
            raise ValidationError("resume", f"{self.path / LOG} holds {len(records)} of the {step} steps the "
                                              "checkpoint was written after; it cannot be continued (--force)")
        return records

    # -- writing (after every check has passed) -----------------------------------------------
    def create(self) -> None:
        """Make the folder (clearing a run `force` replaces) and write run.json; a resumed run's
        log is cut back to its checkpoint."""
        if self.resume is None:
            if self.force and self.path.is_dir():
                for p in [self.path / n for n in (*MARKERS, CHECKPOINT)] + list(self.path.glob("*.png")):
                    p.unlink(missing_ok=True)
            self.created = not self.path.exists()
            self.path.mkdir(parents=True, exist_ok=True)
            run = {"options": self.options, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "resumed": []}
        else:
            run = json.loads((self.path / RUN).read_text(encoding="utf-8"))
            run["options"] = self.options
            run["resumed"].append({"at_step": self.resume.step, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
            self.write_text(LOG, "".join(dumps(r) + "\n" for r in self.resume.records))
        self.write_text(RUN, dumps(run, indent=2) + "\n")

    def undo(self) -> None:
        """Remove a folder this run created (a refusal raised once the mode had started)."""
        if self.created:
            shutil.rmtree(self.path, ignore_errors=True)

    def write_text(self, name: str, text: str) -> None:
        with replacing(self.path / name) as fh:
            fh.write(text)

    def write_checkpoint(self, step: int, theta: dict, twin: dict, twin_start: float | None) -> None:
        arrays = {**{f"theta:{k}": v for k, v in theta.items()}, **{f"twin:{k}": v for k, v in twin.items()}}
        with replacing(self.path / CHECKPOINT, "wb") as fh:
            np.savez(fh, step=step, twin_start=math.nan if twin_start is None else twin_start, **arrays)
