"""What each process of a compiled Lava network needs on Loihi 2: a Lava library process that Intel's
lava-loihi implements on the chip, a host-side library process, or a custom model that needs its own
neuron microcode. `neurophys hil FILE --backend NAME --check-chip` prints this table.

Sources relied on (lava-loihi itself is not public, so what it implements is taken from lava-nc):
* Dense: Lava's connection process with Loihi 2 implementations (the `num_weight_bits`/`weight_exp`/
  `sign_mode` parameters are the Loihi synapse format, lava/proc/dense/process.py, lava/utils/weightutils.py).
  loihi-fixed splits each trainable weight into a static coarse Dense (`….coarse`) and a fine
  LearningDense onto the same post port; the coarse one is a plain Dense whose weights the host
  writes between runs (Var.set), which Lava supports for every Dense.
* LearningDense: on-chip learning for lava-loihi came with lava-nc PR #528 ("Dev/learning 2f on
  chip", Lava 0.6); three-factor rules (Loihi3FLearningRule, y1..y3 from the post neuron) with
  PR #400; graded payloads into the pre-trace x1 (GradedSpikeCfg) with PR #607, whose title names
  the `floating-pt` and `bit-approximate-loihi` models — the hardware side of GradedSpikeCfg is what
  lava-loihi must provide (its values are documented as hardware behaviour in
  lava/magma/core/learning/constants.py).
* RingBuffer (lava.proc.io.source): a Python model only; under Loihi2HwCfg it runs on the host CPU and
  its messages cross into the chip through lava-loihi's channels.
"""
from __future__ import annotations

from lava.proc.dense.process import Dense, LearningDense
from lava.proc.io.source import RingBuffer

from .numerics import COARSE

MICROCODE = {
    "RateNeuron": "a custom Loihi 2 neuron program: projected Euler step of the EP state, a ring schedule table "
                  "(reset/save/restore/hold/evolve, β per phase), graded spike ρ(s) out, third factors y1/y2/y3 "
                  "and a bap to its LearningDense connections, an always-on unit for the biases",
    "DoubledNeuron": "a custom Loihi 2 neuron program: the (a, δ) least-action Euler step on a ring schedule, two "
                     "graded outputs, third factors for the forward and the backward connections (signed δ payloads "
                     "into x1 would need a ± pair of populations on the chip)",
    "SpikingUnit": "a custom Loihi 2 neuron program: integrate-and-fire with subtractive reset whose current is the "
                   "EP state, a spike counter over the measuring window, third factors y1/y2/y3 and a bap",
    "BatchUnits": "a custom Loihi 2 neuron program holding the whole batch, and the host computing the update "
                  "(fast path: not a deployment, see loihi-engine / loihi-fixed)",
}


def row(proc, select_tag: str) -> dict:
    kind = type(proc).__name__
    name = proc.name
    if isinstance(proc, LearningDense):
        note = ("lava-loihi's LearningDense (Loihi3FLearningRule, tag variant, GradedSpikeCfg.OVERWRITE): "
                "the chip's learning engine")
        if select_tag == "floating_pt":
            note += "; the chip runs the fixed-point version of this rule (loihi-fixed)"
        return {"process": name, "type": kind, "maps": True, "runs_on": "Loihi 2 synapses + learning engine",
                "needs": note}
    if isinstance(proc, Dense):
        note = "lava-loihi's Dense"
        if name.endswith(COARSE):
            note += ("; the static coarse part of a split trainable weight (loihi-fixed): the host rewrites it "
                     "between runs when it consolidates the fine LearningDense")
        return {"process": name, "type": kind, "maps": True, "runs_on": "Loihi 2 synapses", "needs": note}
    if isinstance(proc, RingBuffer):
        return {"process": name, "type": kind, "maps": True, "runs_on": "host CPU",
                "needs": "Lava's RingBuffer (Python model); its messages reach the chip through lava-loihi's channels"}
    return {"process": name, "type": kind, "maps": False, "runs_on": "CPU (custom ProcessModel)",
            "needs": MICROCODE.get(kind, "a custom Loihi 2 neuron program")}


def chip_table(net) -> list[dict]:
    return [row(p, net.run_cfg.select_tag) for p in net.processes()]


def render(rows: list[dict]) -> str:
    w = max(len(r["process"]) for r in rows)
    lines = [f"{'process':{w}s}  {'type':14s}  {'maps':5s}  {'runs on':34s}  needs"]
    for r in rows:
        lines.append(f"{r['process']:{w}s}  {r['type']:14s}  {'yes' if r['maps'] else 'NO':5s}  {r['runs_on']:34s}  "
                     f"{r['needs']}")
    return "\n".join(lines)


def check_chip(backend, graph) -> int:
    """Compile `graph`, print the table and a verdict naming what would not map; 0 if everything
    maps, else 2 (the CLI's `--check-chip`)."""
    from neurophys.ir.errors import ValidationError

    backend.compile(graph)
    rows = (backend.info() or {}).get("processes")
    if not rows:
        raise ValidationError("--check-chip", f"backend {backend.name!r} builds no Lava network (use loihi, "
                                              "loihi-engine, loihi-fixed or loihi-lif)")
    bad = [r["process"] for r in rows if not r["maps"]]
    print(render(rows))
    print("every process maps to Loihi 2" if not bad else
          f"would not map to Loihi 2 without custom neuron microcode: {', '.join(bad)}")
    return 2 if bad else 0
