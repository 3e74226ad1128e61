"""faultlab: fault-injection campaigns and honest statistics for DNNs on RRAM crossbars.

    import faultlab
    df = faultlab.run(net, (x, y), fault="stuck_at(sa0=0.01,sa1={rate})", rates=[0, 0.01, 0.02], trials=30)

``faultlab.run`` (and ``faultlab.FaultCampaign``, the Lightning callback) are imported on first use, so
``import faultlab`` and the CLI's ``--help`` stay free of torch.
"""

from faultlab._lazy import lazy_names

__version__ = "0.1.0"


class FaultlabError(Exception):
    """Base class of errors a user can act on; the CLI prints their message as one line."""


_LAZY = {"run": "api", "FaultCampaign": "lightning"}
__getattr__, __dir__ = lazy_names(__name__, _LAZY)
