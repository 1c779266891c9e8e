"""`neurophys nir export|import|run`: NIR files in and out, and running them.

  export FILE OUT.nir [--twin cubalif]  a learning graph's inference part (learning info in metadata),
                                       or with --twin a spiking twin peers can simulate (nir_twin.py)
  import IN.nir OUT.json               a learning graph when the file is one (ours, or Affine/LI rate
                                       layers), else the spiking network (neurophys.spiking JSON)
  run FILE --input IN.npy --dt S --out OUT.npy [--convention C] [--backend B]
                                       IN is T × n_in (one row per step), OUT is T × n_out: the
                                       output node's value each step (spikes, or the state of an
                                       LI/I/CubaLI output). The convention defaults to the producer
                                       the file shows (conventions.detect), else NIR's equations.
"""
from __future__ import annotations

import os
import sys
import warnings
from importlib.metadata import entry_points

from ..cli import add_command
from ..plugins import install_hint, listing
from ..atomic import replacing

SIMULATORS = "neurophys.nir_simulators"


def register(sub) -> None:
    p = add_command(sub, "nir", "NIR files: convert learning graphs, import what peers write, run spiking networks")
    nsub = p.add_subparsers(dest="nir_command", metavar="ACTION")
    nsub.required = True
    e = add_command(nsub, "export", "write a neurophys graph file as a NIR (HDF5) file")
    e.add_argument("file", help="neurophys graph JSON file")
    e.add_argument("out", metavar="OUT.nir", help="NIR file to write (e.g. runs/mlp.nir)")
    e.add_argument("--twin", choices=["cubalif"], help="write a rate-coded spiking twin instead of LI rate nodes")
    e.add_argument("--steps-per-spike", type=float, default=None, metavar="K",
                   help="twin only: ρ = K × spikes per step (default 100)")
    e.add_argument("--tau-syn-steps", type=float, default=None, metavar="N",
                   help="twin only: synaptic time constant in steps (default 20; 1.4427 = 1/ln 2 for Rockpool)")
    e.set_defaults(func=_export)
    i = add_command(nsub, "import", "read a NIR file and write a neurophys graph (or spiking network) file")
    i.add_argument("file", metavar="IN.nir", help="NIR file written by neurophys or a peer library")
    i.add_argument("out", metavar="OUT.json", help="graph or spiking-network JSON file to write")
    i.set_defaults(func=_import)
    r = add_command(nsub, "run", "simulate a NIR file on an input array")
    r.add_argument("file", metavar="FILE", help="NIR file holding a spiking network")
    r.add_argument("--input", required=True, metavar="IN.npy", help="T × n_in input values, one row per time step")
    r.add_argument("--dt", required=True, type=float, metavar="S", help="time step in seconds")
    r.add_argument("--out", required=True, metavar="OUT.npy", help="T × n_out output values to write")
    r.add_argument("--convention", default=None, help="nir, snntorch, norse, sinabs or rockpool "
                   "(default: the producer the file shows, else nir)")
    r.add_argument("--backend", default="reference", help=f"simulator: {listing(SIMULATORS)} (default: reference)")
    r.set_defaults(func=_run)


def _export(args) -> int:
    from .. import ir
    from . import nir

    graph = ir.load(args.file)
    if args.twin:
        from . import nir_twin

        kw = {k: v for k, v in (("steps_per_spike", args.steps_per_spike), ("tau_syn_steps", args.tau_syn_steps))
              if v is not None}
        twin = nir_twin.twin(graph, **kw)
        with replacing(_in_its_folder(args.out), "w+b") as fh:  # HDF5 seeks and reads back
            nir._nir().write(fh, twin.graph)
        print(f"wrote {args.out}: {args.twin} twin; {twin.approximation}")
        return 0
    if args.steps_per_spike is not None or args.tau_syn_steps is not None:
        from ..ir.errors import ValidationError

        raise ValidationError("--steps-per-spike" if args.steps_per_spike is not None else "--tau-syn-steps",
                              "applies to --twin only")
    nir.export(graph, _in_its_folder(args.out))
    print(f"wrote {args.out}")
    return 0


def _import(args) -> int:
    from .. import ir
    from ..ir import spiking_io
    from . import nir, nir_spiking

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raw = nir_spiking.read_raw(args.file)
    _show(caught)
    if nir.is_rate_graph(raw):
        g = nir.load(args.file)
        ir.save(g, _in_its_folder(args.out))
        print(f"wrote {args.out}: graph {g.name!r}, family {g.rule.family}, {len(g.populations)} populations, "
              f"{len(g.couplings)} couplings")
        return 0
    net = nir_spiking.from_dict(raw, name=os.path.splitext(os.path.basename(args.file))[0])
    spiking_io.save(net, _in_its_folder(args.out))
    kinds = sorted({getattr(n, "model", type(n).__name__) for n in net.nodes})
    print(f"wrote {args.out}: spiking network {net.name!r}, {len(net.nodes)} nodes ({', '.join(kinds)}), "
          f"{len(net.delayed)} recurrent edges, {net.n_in} inputs → {net.n_out} outputs of {net.output!r}")
    return 0


def _run(args) -> int:
    import numpy as np

    from ..ir.errors import ValidationError
    from . import conventions, nir_spiking

    sims = {ep.name: ep for ep in entry_points(group=SIMULATORS)}
    if args.backend not in sims:
        raise ValidationError("--backend", f"{args.backend!r} is not one of {', '.join(sorted(sims))}")
    if install_hint(sims[args.backend]):
        raise ValidationError("--backend", f"{args.backend!r} is not installed: {install_hint(sims[args.backend])}")
    if not (np.isfinite(args.dt) and args.dt > 0):
        raise ValidationError("--dt", f"{args.dt!r} must be a positive number of seconds")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = nir_spiking.load(args.file)
    _show(caught)
    try:
        x = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValidationError("--input", f"{args.input}: not a readable .npy array ({exc})") from None
    if x.ndim != 2 or x.shape[1] != net.n_in:
        raise ValidationError("--input", f"{args.input}: shape {x.shape}, expected T × {net.n_in} "
                              f"(the file's input {', '.join(f'{i.name!r} ({i.size})' for i in net.inputs)})")
    name = args.convention
    if name is None:
        found, why = conventions.detect(net)
        name = found or "nir"
        print(f"convention: {name} ({'detected: ' if found else 'default; '}{why})")
    dyn = conventions.get(name)
    if args.backend != "reference" and name != "nir":
        if args.convention is not None:
            raise ValidationError("--convention", f"{args.backend} simulates NIR's equations; producer conventions "
                                  "run on the reference backend")
        print(f"note: {args.backend} simulates NIR's equations, not {name}'s")
        dyn = conventions.get("nir")
    implied = dyn.implied_dt(net)
    if implied is not None and abs(implied - args.dt) > 0.01 * implied:
        print(f"warning: the file's {dyn.name} parameters were written for dt = {implied:.6g} s; running at "
              f"--dt {args.dt:g}", file=sys.stderr)
    simulate = sims[args.backend].load()
    run = simulate(net, x, args.dt, dynamics=dyn) if args.backend == "reference" else simulate(net, x, args.dt)
    _save_npy(_in_its_folder(args.out), run.output)
    spikes = ", ".join(f"{k} {v:g}" for k, v in run.counts.items())
    print(f"wrote {args.out}: {run.output.shape[0]} steps × {run.output.shape[1]} outputs of {net.output!r} "
          f"({args.backend}, {dyn.name}); spikes: {spikes or 'none'}")
    return 0


def _in_its_folder(path: str) -> str:
    """Create the output's folder (runs/ in the tour) once the input has been read and checked."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return path


def _save_npy(path: str, array) -> None:
    import numpy as np

    with replacing(path, "wb") as f:
        np.save(f, array)


def _show(caught) -> None:
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
