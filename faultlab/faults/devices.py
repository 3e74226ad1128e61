"""Named device presets: one word for a measured RRAM device's whole transfer.

    model = parse_fault("device(tio2_drolet2023)")
    model = parse_fault("chain(device(tio2_drolet2023), stuck_at(sa1={rate}))", rate=0.01)  # extra SA1 on top

A preset is a sequence of crossbar events on the same (G+, G-) (one transfer, see crossbar.py) plus
whether the device maps biases (an extra word line sharing the layer's scale). Chained with further
crossbar models, the events of the preset and the following members form one transfer, in order.

Presets
-------
``tio2_drolet2023``: the TiO2 passive crossbar of Drolet et al., "Hardware-aware training techniques for
improving robustness of ex-situ neural network transfer onto passive TiO2 ReRAM crossbars", arXiv
2305.18495 (2023), with the parameters of their public code (3it-inpaqt/Hardware-Aware-Article,
``hardaware_pytorch_layers/hardaware_linear.py``):

- window: HRS 10 kΩ / LRS 2 kΩ, G in [100, 500] µS, differential pair, w_max = max|W| per layer
  (weights and bias together: the bias is mapped as an extra row);
- programming offset G <- G (1 + o/100), o ~ N(-0.589, 0.339) % per device;
- tuning imprecision sigma_G(%) = a·G + b, a = -6.24e-4 %/µS, b = 0.691 % (G in µS), per device, from
  the programmed level;
- stuck devices: 0.5 % stuck in LRS with G ~ N(573, 99) µS, 0.5 % stuck in HRS with G ~ U[10, 100] µS
  (both outside the window), drawn after programming, so a stuck device keeps its stuck value.

Not modelled: the paper's disturbance of already-programmed neighbours when a device is programmed
(offsets drawn from their measured database, ``drift_dicts/*.pkl``, per position in the programming
order). Those are measured data we do not have; transfers simulated with this preset are therefore
milder than the paper's, and reliabilities computed with it are upper bounds for the real device. The
public code also scales each layer's bias on its own (and leaves a 1-element bias untouched); here the
bias shares the layer's scale, as a crossbar row would.

Measured with ``experiments/tio2_moons.yaml`` (5 training seeds, 2,000 transfers per run; mean over runs with the
95 % t interval over runs): 30 % [10, 51] of the test points reliable (correct in >= 95 % of transfers) for the
regular network, 71 % [66, 76] for the hardware-aware one (paper: 18.5 % and 79.5 %); with 1 % more devices stuck
in LRS, 0.04 % vs 52 % (recipe-level verdict "better", paired by seed, Holm p = 0.0003). The regular network does
better than in the paper because the missing neighbour disturbance makes this transfer milder; the hardware-aware
one worse because training through the transfer here reaches only 0.88-0.93 clean accuracy (the paper's also uses
dropout), which caps the fraction of points it can classify reliably.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from .base import FaultModel, check_choice
from .chain import apply_steps, steps
from .crossbar import Programming, StuckAt
from .streams import RandomSource

TIO2_G_MIN_US, TIO2_G_MAX_US = 100.0, 500.0  # 1 / 10 kΩ and 1 / 2 kΩ
TIO2_PROG_A, TIO2_PROG_B = -6.24e-4, 0.691  # sigma_G(%) = a·G + b, G in µS
TIO2_OFFSET = "normal(-0.589, 0.339)"  # programming offset o, %
TIO2_STUCK_RATE = 0.005  # per state
TIO2_STUCK_LRS = "normal(573, 99)"  # µS
TIO2_STUCK_HRS = "uniform(10, 100)"  # µS


@dataclass(frozen=True)
class DevicePreset:
    """A measured device: its transfer's events (built on demand) and whether it maps biases."""

    build: Callable[[], tuple[FaultModel, ...]]
    maps_bias: bool
    source: str


def _tio2_drolet2023() -> tuple[FaultModel, ...]:
    window = {"g_min": TIO2_G_MIN_US, "g_max": TIO2_G_MAX_US}
    return (
        Programming(a=TIO2_PROG_A, b=TIO2_PROG_B, offset=TIO2_OFFSET, **window),
        StuckAt(TIO2_STUCK_RATE, TIO2_STUCK_RATE, g_sa0=TIO2_STUCK_HRS, g_sa1=TIO2_STUCK_LRS, **window),
    )


PRESETS: dict[str, DevicePreset] = {
    "tio2_drolet2023": DevicePreset(_tio2_drolet2023, True, "Drolet et al. 2023, arXiv 2305.18495"),
}


class Device(FaultModel):
    """``device(preset)``: the transfer of a named measured device (see the module docstring)."""

    name = "device"
    units = {"preset": "a measured device (faultlab faults lists them)"}

    def __init__(self, preset: str) -> None:
        self._set(preset=check_choice(self.name, "preset", preset, tuple(sorted(PRESETS))))
        object.__setattr__(self, "_events", PRESETS[preset].build())
        object.__setattr__(self, "_steps", steps(self._events))

    @property
    def events(self) -> tuple[FaultModel, ...]:
        return self._events

    @property
    def maps_bias(self) -> bool:  # type: ignore[override]
        return PRESETS[self.preset].maps_bias

    @property
    def per_forward(self) -> bool:  # type: ignore[override]
        return any(e.per_forward for e in self._events)

    @property
    def stackable(self) -> bool:  # type: ignore[override]
        return all(e.stackable for e in self._events)

    def _apply(self, wb: Tensor, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
        return apply_steps(self._steps, wb, generator)
