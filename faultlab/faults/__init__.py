"""faultlab.faults: the fault vocabulary shared by fault-aware training and fault campaigns.

    from faultlab.faults import parse_fault, fault_seed, make_generator, select_layers
    fault = parse_fault("stuck_at(sa0=0.01, sa1={rate})", rate=0.05)
    w_faulty = fault(w, make_generator(fault_seed(seed, "conv1", fault.spec(), 0.05, trial)))

Pure torch: nothing here imports the rest of faultlab.
"""

from __future__ import annotations

from .base import FaultDraw, FaultModel, FaultSpecError
from .chain import Chain
from .count import exact_count_masks, full_rate_fault
from .crossbar import HEALTHY, SA0, SA1, Drift, LineFaults, Programming, ReadNoise, StuckAt
from .devices import PRESETS, Device
from .distributions import Distribution, parse_distribution
from .keys import fault_seed, make_generator
from .mapping import (
    G_MAX_US,
    G_MIN_US,
    device_scale,
    from_conductance,
    join_bias,
    split_bias,
    to_conductance,
    weight_scale,
)
from .selection import LayerSelectionError, layer_groups, layer_kind, select_layers
from .spec import FAULTS, available_faults, parse_fault, sweep_parameter
from .weight import Drop, GaussianAdd, GaussianMult, Quantize

__all__ = [
    "FAULTS",
    "PRESETS",
    "G_MAX_US",
    "G_MIN_US",
    "HEALTHY",
    "SA0",
    "SA1",
    "Chain",
    "Device",
    "Distribution",
    "Drift",
    "Drop",
    "FaultDraw",
    "FaultModel",
    "FaultSpecError",
    "GaussianAdd",
    "GaussianMult",
    "LayerSelectionError",
    "LineFaults",
    "Programming",
    "Quantize",
    "ReadNoise",
    "StuckAt",
    "available_faults",
    "device_scale",
    "join_bias",
    "parse_distribution",
    "split_bias",
    "exact_count_masks",
    "fault_seed",
    "full_rate_fault",
    "from_conductance",
    "layer_groups",
    "layer_kind",
    "make_generator",
    "parse_fault",
    "select_layers",
    "sweep_parameter",
    "to_conductance",
    "weight_scale",
]
