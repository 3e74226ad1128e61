"""faultlab: fault-injection campaigns and honest statistics for DNNs on RRAM crossbars."""

__version__ = "0.1.0"


class FaultlabError(Exception):
    """Base class of errors a user can act on; the CLI prints their message as one line."""
