"""faultlab: fault-injection campaigns and honest statistics for DNNs on RRAM crossbars.

    import faultlab
    df = faultlab.run(net, (x, y), fault="stuck_at(sa0=0.01,sa1={rate})", rates=[0, 0.01, 0.02], trials=30)

``faultlab.run`` (and ``faultlab.FaultCampaign``, the Lightning callback) are imported on first use, so
``import faultlab`` and the CLI's ``--help`` stay free of torch.
"""

__version__ = "0.1.0"


class FaultlabError(Exception):
    """Base class of errors a user can act on; the CLI prints their message as one line."""


_LAZY = {"run": "faultlab.api", "FaultCampaign": "faultlab.lightning"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'faultlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
