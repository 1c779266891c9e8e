"""The terminal report: per-coupling and global agreement of the last step, then the run's summary."""
from __future__ import annotations

from neurophys.metrics import METRICS


def _num(v, fmt=".3g") -> str:
    return "n/a" if v is None else format(v, fmt)


def _spread(s: dict | None, fmt=".9g") -> str:
    if s is None:
        return "n/a"
    text = " / ".join(_num(s[k], fmt) for k in ("min", "median", "max") if k in s)
    return text + (f"  ({s['undefined']} steps undefined)" if s.get("undefined") else "")


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def render(summary: dict) -> str:
    last = summary["last_step"]
    cols = tuple(METRICS)
    lines = [f"{summary['graph']} on {summary['backend']} ({summary['mode']}, {summary['steps']} steps): "
             f"measured update vs −lr·∇({summary['cost']} cost) at the measured θ — last step",
             f"{'parameter':<20}" + "".join(f"{c:>13}" for c in cols)]
    for name, m in list(last["params"].items()) + [("GLOBAL", last["global"])]:
        lines.append(f"{name:<20}" + "".join(f"{m[c]:>13.9g}" for c in cols))
    lines.append("")
    lines.append("over all steps (min / median / max of the global metric):")
    for m in cols:
        lines.append(f"  {m:<22}{_spread(summary[m])}")
    if summary["vs_task"]:
        lines.append(f"  vs task cost: cosine  {_spread(summary['vs_task']['cosine'])}   (reported, not asserted)")
    lines.append(f"  vs bounded step: cosine {_spread(summary['vs_bounded']['cosine'])}   (−lr·∇ clipped to the bounds"
                 + (" and the target's range)" if summary["limits"] else ")"))
    ref = summary["reference_rel_error"]
    lines.append(f"  {'vs reference engine':<22}" + ("n/a" if ref is None else f"rel_error median {ref['median']:.3g}, max {ref['max']:.3g}"))
    inv = summary["invariant_drift"]
    if inv:
        lines.append(f"  {'invariant drift':<22}per step {_spread(inv['per_step'], '.3g')}; total {_num(inv['total'])} "
                     f"(twin {_num(inv['twin_total'])})")
    twin = summary["twin"]
    lines.append(f"  {'accuracy train/test':<22}{_pct(summary['train_accuracy'])} / {_pct(summary['test_accuracy'])}"
                 + (f"   twin {_pct(twin['train_accuracy'])} / {_pct(twin['test_accuracy'])}" if twin else ""))
    if summary["stat"]:
        s = summary["stat"]
        lines.append(f"  {'repeat test':<22}|mean(u) − E[u]| ≤ {s['k']:g}·σ/√{s['n']}: pass fraction {s['pass_fraction']:.4f}, "
                     f"max z {_num(s['z_max'])} → {'PASS' if s['passed'] else 'FAIL'}")
    if summary["sweep"]:
        p = summary["sweep"]["parameter"]
        for r in summary["sweep"]["results"]:
            lines.append(f"  {p} = {r['value']:<10g}cosine median {_num(r['cosine']['median'], '.6f')}, "
                         f"rel_error median {_num(r['rel_error']['median'])}")
    a = summary.get("audit")
    if a:
        cov = a["coverage_on_full_steps"]
        lines.append(f"  {'sampled audit':<22}{a['sampled_per_step']} of {a['parameters']} parameters per step on "
                     f"{a['sampled_steps']} steps, full reads on {a['full_steps']}; modelled link per step "
                     f"{_num(a['link_s_per_step']['sampled'])} s sampled vs {_num(a['link_s_per_step']['full'])} s full"
                     + ("" if cov is None else f"; {100 * a['level']:g}% interval covered the exact cosine on "
                                               f"{100 * cov['global']['cosine']:.0f}% of full steps"))
    t = summary["time_s"]
    lines.append(f"  {'time (s), real wall':<22}" + ", ".join(f"{k} {v:.3f}" for k, v in t["wall"].items()))
    lines.append(f"  {'time (s), modelled':<22}" + ", ".join(f"{k} {v:.3f}" for k, v in t["modelled"].items())
                 + "   (what the serial link and the board's execution would take)")
    return "\n".join(lines)
