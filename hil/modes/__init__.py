"""The harness modes; each takes a Context, logs its steps through it, and returns its own part of
the summary."""
from .stat import stat
from .sweep import sweep
from .train import train

MODES = {"train": train, "stat": stat, "sweep": sweep}
