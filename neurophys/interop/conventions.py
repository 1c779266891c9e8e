"""What each producer computes from the NIR file it wrote: the producer's own discretisation.

NIR files say which ODE each node follows; the libraries that write them simulate something else.
Each class here overrides the reference engine's models (neurophys.physics.spiking.NIREuler) with
the producer's update, read from its source (versions named; departures from NIR's Euler marked ≠):

snntorch  snnTorch 0.9 / 1.0 Leaky, Synaptic, RLeaky, RSynaptic (snntorch/_neurons/leaky.py,
          synaptic.py; export_nir.py writes τ = dt/(1−β), r = τ/dt with its fixed dt = 1e-4, and
          for Synaptic τ_syn = dt/(1−α), w_in = τ_syn/dt):
            β = 1 − dt/τ, α = 1 − dt/τ_syn (so at dt = 1e-4 the file's own β, α)
            LIF      v ← β v + (r dt/τ) I − θ·[v_prev > θ]     ≠ reset by subtraction (snnTorch's
                                                                 default), applied one step late
                                                                 and unleaked (reset_delay=True)
            CubaLIF  i ← α i + w_in (dt/τ_syn) I ;  v ← β v + (r dt/τ_mem) i_new − θ·[v_prev > θ]
                                                                ≠ v uses the *new* current
          The file implies its dt: τ/r (warned about when --dt differs).
norse     Norse 1.1 (norse/torch/functional/lif.py lif_feed_forward_step, lif_box.py, iaf.py,
          leaky_integrator_box.py; utils/export_nir.py):
            ≠ τ in the file is dt_export/τ_inv with dt_export = 1e-3 — the time constant meant is
              τ_file / 1e-3 (a file τ of 1e-5 s means 1e-2 s)
            CubaLIF  i ← i + w_in I (a jump) ; v ← v + dt/τ_mem (v_leak − v + i) ; i ← i (1 − dt/τ_syn)
                     then spikes where v > θ, v ← v_reset          ≠ input jumps into the current
            LIF, LI  NIR's Euler with r = 1 (Norse writes r = 1 and ignores it)
            IF       v ← v + I (no dt, no r), spikes, v ← v_reset  ≠ integrates without dt
sinabs    Sinabs 3.1 (sinabs/nir.py from_nir, layers/functional/lif.py, activation MultiSpike,
          MembraneSubtract):
            ≠ τ counts time steps: α = exp(−1/τ), whatever dt is
            LIF      v ← α v + I               ≠ no (1 − α) or r factor although the file says r = 1
            IF       v ← v + I, then v ← max(v, −θ) (from_nir sets min_v_mem = −θ)
            LI       v ← α v + I (ExpLeak)
            spikes   n = ⌊v/θ⌋ where v > 0 (several per step), v ← v − n θ   ≠ multi-spike, subtractive
rockpool  Rockpool 3.x torch modules (nn/modules/torch/lif_torch.py, lif_neuron_torch.py,
          exp_syn_torch.py; nir.py writes r = τ e^{−dt/τ}/dt, so the file implies its dt):
            α = exp(−dt/τ_mem), β = exp(−dt/τ_syn) (exact exponential decay)
            CubaLIF  i ← β (i + I) ; v ← α v + i + v_leak      ≠ input jumps into the current
            LIF      v ← α v + I + v_leak
            LI       i ← β (i + I), output i
            spikes   n = ⌊v/θ⌋ where v ≥ θ, v ← v − n θ          ≠ multi-spike, subtractive
Models a producer never writes (e.g. IF for Rockpool) keep NIR's Euler.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from ..ir.errors import ValidationError
from ..ir.neurons import Neurons
from ..ir.spiking_network import SpikingNetwork
from ..physics.spiking import NIREuler

SNNTORCH_DT = 1e-4    # snnTorch's export_nir.py: dt = 1e-4, hard-coded
NORSE_EXPORT_DT = 1e-3  # Norse 1.1's to_nir(dt=0.001): τ written as dt/τ_inv


def _neurons(net: SpikingNetwork, models) -> list[Neurons]:
    return [n for n in net.nodes if isinstance(n, Neurons) and n.model in models]


class SnnTorch(NIREuler):
    name = "snntorch"

    def initial(self, n, shape):
        return {**super().initial(n, shape), "fired": np.zeros(shape + (n.size,), bool)}

    def lif(self, n, s, x, dt):
        beta = 1 - dt / n.tau
        s["v"] = beta * s["v"] + (n.r * dt / n.tau) * x + dt / n.tau * n.v_leak - n.v_threshold * s["fired"]
        return self._fire(n, s)

    def cubalif(self, n, s, x, dt):
        s["i"] = (1 - dt / n.tau_syn) * s["i"] + n.w_in * dt / n.tau_syn * x
        s["v"] = (1 - dt / n.tau_mem) * s["v"] + (n.r * dt / n.tau_mem) * s["i"] + dt / n.tau_mem * n.v_leak \
            - n.v_threshold * s["fired"]
        return self._fire(n, s)

    @staticmethod
    def _fire(n, s):
        s["fired"] = s["v"] > n.v_threshold
        return s["fired"].astype(float)

    def implied_dt(self, net):
        ratios = [n.tau / n.r for n in _neurons(net, ("LIF",))] + [n.tau_mem / n.r for n in _neurons(net, ("CubaLIF",))]
        return float(np.median(np.concatenate(ratios))) if ratios else None


class Norse(NIREuler):
    name = "norse"

    def li(self, n, s, x, dt):
        s["v"] = s["v"] + dt / self.tau(n.tau) * (n.v_leak - s["v"] + x)
        return s["v"]

    def cubali(self, n, s, x, dt):
        i = s["i"] + n.w_in * x
        s["v"] = s["v"] + dt / self.tau(n.tau_mem) * (n.v_leak - s["v"] + i)
        s["i"] = i * (1 - dt / self.tau(n.tau_syn))
        return s["v"]

    def integrator(self, n, s, x, dt):
        s["v"] = s["v"] + x
        return s["v"]

    @staticmethod
    def tau(tau_file):
        return tau_file / NORSE_EXPORT_DT


class Sinabs(NIREuler):
    name = "sinabs"

    def li(self, n, s, x, dt):
        s["v"] = np.exp(-1.0 / n.tau) * s["v"] + x
        return s["v"]

    def lif(self, n, s, x, dt):
        return self.fire(n, s, self.li(n, s, x, dt))

    def if_(self, n, s, x, dt):
        out = self.fire(n, s, s["v"] + x)
        s["v"] = np.maximum(s["v"], -n.v_threshold)
        return out

    def fire(self, n, s, v):
        spikes = np.where(v > 0, np.trunc(v / n.v_threshold), 0.0)
        s["v"] = v - spikes * n.v_threshold
        return spikes


class Rockpool(NIREuler):
    name = "rockpool"

    def li(self, n, s, x, dt):
        s["i"] = np.exp(-dt / n.tau) * (s["i"] + x)
        return s["i"]

    def lif(self, n, s, x, dt):
        return self.fire(n, s, np.exp(-dt / n.tau) * s["v"] + x + n.v_leak)

    def cubalif(self, n, s, x, dt):
        s["i"] = np.exp(-dt / n.tau_syn) * (s["i"] + x)
        return self.fire(n, s, np.exp(-dt / n.tau_mem) * s["v"] + s["i"] + n.v_leak)

    def fire(self, n, s, v):
        spikes = np.where(v >= n.v_threshold, np.floor(v / n.v_threshold), 0.0)
        s["v"] = v - spikes * n.v_threshold
        return spikes

    def implied_dt(self, net):
        """Solve r = τ e^{−dt/τ}/dt (Rockpool's export) for dt, from the first LIF/CubaLIF unit."""
        for n in _neurons(net, ("LIF", "CubaLIF")):
            tau, r = (n.tau if n.model == "LIF" else n.tau_mem)[0], n.r[0]
            f = lambda dt: tau * np.exp(-dt / tau) / dt - r  # noqa: E731 - decreasing in dt
            lo, hi = tau * 1e-9, tau * 50
            if r > 0 and f(lo) > 0 > f(hi):
                return float(brentq(f, lo, hi, xtol=tau * 1e-12))
        return None


CONVENTIONS = {"nir": NIREuler, "snntorch": SnnTorch, "norse": Norse, "sinabs": Sinabs, "rockpool": Rockpool}


def get(name: str) -> NIREuler:
    if name not in CONVENTIONS:
        raise ValidationError("--convention", f"{name!r} is not one of {', '.join(CONVENTIONS)}")
    return CONVENTIONS[name]()


def detect(net: SpikingNetwork) -> tuple[str | None, str]:
    """The producer a file shows (name, why), or (None, why not) — only from unambiguous marks."""
    torch_named = [n.name for n in net.nodes if n.name.rsplit("_", 1)[-1].endswith("Torch")]
    if torch_named:
        return "rockpool", f"node {torch_named[0]!r} is named after a Rockpool torch module"
    cells = _neurons(net, ("LIF", "CubaLIF"))
    if cells and all(np.allclose((n.tau if n.model == "LIF" else n.tau_mem) / n.r, SNNTORCH_DT, rtol=1e-4)
                     and not np.allclose(n.r, 1) for n in cells) \
            and all(np.allclose(n.w_in, n.tau_syn / SNNTORCH_DT, rtol=1e-4) for n in cells if n.model == "CubaLIF"):
        return "snntorch", "every LIF/CubaLIF has r = τ/1e-4 (and w_in = τ_syn/1e-4): snnTorch's export with its dt = 1e-4"
    return None, "no producer mark (module names, snnTorch's r = τ/1e-4)"
