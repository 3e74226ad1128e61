"""``faultlab faults``: every fault model and device preset, with its parameters, defaults and units, read from
the fault classes themselves (``faultlab.faults.FAULTS``, ``PRESETS``).

    faultlab faults                 # the list
    faultlab faults stuck_at        # one model
"""

from __future__ import annotations

import inspect

from faultlab.parsing import command_parser

HELP = "list the fault models and device presets, their parameters and units"


def build_parser():
    p = command_parser("faultlab faults", __doc__)
    p.add_argument("name", type=str | None, nargs="?", default=None, help="one fault model (default: all)")
    return p


def describe(cls: type) -> list[str]:
    """A model's spec line, its first docstring line, and one line per parameter (default, unit)."""
    params = [p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"]
    lines = [f"{cls.name}({', '.join(p.name for p in params)})",
             "    " + (inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " ")]
    for p in params:
        default = "" if p.default is inspect.Parameter.empty else f" = {p.default!r}"
        unit = cls.units.get(p.name, "")
        lines.append(f"    {p.name}{default}" + (f": {unit}" if unit else ""))
    return lines


def run(cfg) -> None:
    import difflib

    from faultlab import FaultlabError
    from faultlab.faults import FAULTS, PRESETS

    if cfg.name is not None and cfg.name not in FAULTS:
        close = difflib.get_close_matches(cfg.name, list(FAULTS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise FaultlabError(f"unknown fault model {cfg.name!r}{hint}; known: {', '.join(sorted(FAULTS))}")
    names = [cfg.name] if cfg.name else sorted(FAULTS)
    print("Fault models (spec strings such as 'stuck_at(sa0=0.01, sa1={rate})'; {rate} is swept by a campaign):")
    for name in names:
        print("\n".join(describe(FAULTS[name])))
    if cfg.name is None or cfg.name == "device":
        print("\nDevice presets (device(NAME); docs/devices.md):")
        for name, preset in sorted(PRESETS.items()):
            events = ", ".join(e.spec() for e in preset.build())
            bias = "maps biases" if preset.maps_bias else "biases exact"
            print(f"{name}: {preset.source}; {events}; {bias}")
