"""Figures from a trial frame (what ``faultlab.run`` or ``faultlab export`` returns), for a notebook or a report.

    import faultlab, faultlab.plot
    df = faultlab.run(net, (x, y), fault="drop(p={rate})", rates=[0, 0.01, 0.1], trials=30)
    faultlab.plot.accuracy_vs_rate(df)              # a matplotlib Figure: shown in a notebook, or fig.savefig(...)

Every function returns a ``matplotlib.figure.Figure`` built outside pyplot (no global state, the same input
draws the same figure) and only renders numbers ``faultlab.stats`` computes. Accuracies are drawn in %,
intervals of bounded quantities clipped to their range (the legend says when). ``import faultlab`` and
``import faultlab.stats`` do not import this module or matplotlib.
"""

from ._common import PlotError, RateAxis
from .curves import accuracy_vs_rate, critical_rate_auc
from .forest import contrast_forest, verdict_style
from .layers import layer_sensitivity, natural_order

__all__ = ["PlotError", "RateAxis", "accuracy_vs_rate", "contrast_forest", "critical_rate_auc", "layer_sensitivity",
           "natural_order", "verdict_style"]
