"""Which Lava run configuration executes the network: the CPU simulation of Loihi 2 by default, the
chip itself when the hardware stack (lava-loihi) is installed and asked for."""
from __future__ import annotations

import importlib.util

from lava.magma.core.run_configs import Loihi2HwCfg, Loihi2SimCfg

from neurophys.ir.errors import ValidationError

from .procs.batch_units import BatchUnits, PyBatchUnitsFloat
from .procs.doubled_neuron import DoubledNeuron, PyDoubledNeuronFloat
from .procs.rate_neuron import PyRateNeuronFixed, PyRateNeuronFloat, RateNeuron
from .procs.spiking_unit import PySpikingUnitFloat, SpikingUnit

HW_MODULE = "lava.magma.compiler.subcompilers.nc"  # shipped by lava-loihi, the Loihi 2 hardware stack

MODELS = {"floating_pt": {RateNeuron: PyRateNeuronFloat, DoubledNeuron: PyDoubledNeuronFloat,
                          SpikingUnit: PySpikingUnitFloat, BatchUnits: PyBatchUnitsFloat},
          "fixed_pt": {RateNeuron: PyRateNeuronFixed}}


def hardware_available() -> bool:
    try:
        return importlib.util.find_spec(HW_MODULE) is not None
    except ModuleNotFoundError:
        return False


def check_hw(hw: bool) -> None:
    if hw and not hardware_available():
        raise ValidationError("hw", f"Loihi 2 hardware needs lava-loihi ({HW_MODULE} is not importable); "
                              "run without --hw to simulate with Loihi2SimCfg")


def run_config(select_tag: str, hw: bool, processes):
    """Our Processes are mapped to their models per instance (Lava's compiler looks instances up in
    `exception_proc_model_map`), so Lava never scans our folders for models."""
    check_hw(hw)
    models = MODELS[select_tag]
    table = {p: models[type(p)] for p in processes if type(p) in models}
    cfg = Loihi2HwCfg if hw else Loihi2SimCfg
    return cfg(select_tag=select_tag, exception_proc_model_map=table)
