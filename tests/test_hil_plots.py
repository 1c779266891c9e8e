"""The run plots say what they show: agreement.png keeps every parameter's curve visible beside
the global one and has a legend in both panels; invariant.png names its quantity in words, gives
the formula in the title, and says why the twin has points only every `eval_every` steps."""
import numpy as np
import pytest
from matplotlib.colors import to_rgba

from neurophys.backends.reference import ReferenceBackend
from neurophys.data import load_split
from neurophys.hil import plots
from neurophys.hil.context import Context
from neurophys.hil.jsonlog import JsonLines
from neurophys.hil.modes import MODES
from neurophys.ir import builders
from neurophys.ir.dataset import Dataset
from neurophys.ir.training import Training

EVAL_EVERY = 3


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    """Six reference-engine steps on a one-layer resistor network (k_in_out, k_gnd_out), as a run makes them."""
    graph = builders.resistor_network(4, 3, 0, family="coupled_learning", beta=1e-3, dataset=Dataset("iris"),
                                      training=Training(batch_size=8, seed=0))
    backend = ReferenceBackend()
    backend.compile(graph)
    with JsonLines(tmp_path_factory.mktemp("run") / "log.jsonl") as log:
        context = Context(backend, graph, load_split(graph.dataset), steps=6, seed=0, log=log,
                          eval_every=EVAL_EVERY, show_progress=False)
        MODES["train"](context)
    return context


def test_agreement_keeps_each_parameter_visible_over_the_global_curve(ctx):
    fig = plots.agreement_figure(ctx)
    params = list(ctx.records[0]["params"])
    assert len(params) >= 2
    for ax in fig.axes:
        assert ax.get_legend() is not None  # both panels
        lines = {line.get_label(): line for line in ax.get_lines()}
        glob = lines["global (all parameters)"]
        colours = [to_rgba(lines[p].get_color()) for p in params]
        assert len(set(colours)) == len(params) and to_rgba(glob.get_color()) not in colours
        for p in params:  # drawn above the global band, and thinner than it
            assert lines[p].get_zorder() > glob.get_zorder() and lines[p].get_linewidth() < glob.get_linewidth()


def test_invariant_says_what_it_is_and_why_the_twin_has_few_points(ctx):
    fig = plots.invariant_figure(ctx)
    (ax,) = fig.axes
    ylabel = ax.get_ylabel()
    assert "Σ" not in ylabel and "conserved quantity" in ylabel
    assert "Σ k²/2 over the trainable conductances" in ax.get_title()
    lines = {line.get_label(): line for line in ax.get_lines()}
    twin = next(line for label, line in lines.items() if label.startswith("twin"))
    assert f"every {EVAL_EVERY} steps" in twin.get_label()
    xs = list(twin.get_xdata())
    assert xs == [0, 3, 6]  # the shared start, then each evaluation (after steps 3 and 6)
    backend = next(line for label, line in lines.items() if not label.startswith("twin"))
    assert list(backend.get_xdata()) == list(range(7)) and backend.get_ydata()[0] == twin.get_ydata()[0]
    assert np.isfinite(backend.get_ydata()).all()


def test_curves_say_how_often_they_are_evaluated_and_after_which_step(ctx):
    for ax in plots.curves_figure(ctx).axes:
        assert f"evaluated every {EVAL_EVERY} steps" in ax.get_title()
        assert all(list(line.get_xdata()) == [3, 6] for line in ax.get_lines())
