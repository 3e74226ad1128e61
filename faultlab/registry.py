"""One registry mechanism for everything faultlab builds by name: models, fault models, data sets (and, by
the same pattern, training methods). Pure Python: importing it imports neither torch nor the rest of faultlab.

    MODELS = Registry("architecture")
    @MODELS.register                     # filed under the function's __name__ (a class: its ``name``)
    def resnet20(...): ...
    MODELS.get("resnet2O")               # UnknownNameError: unknown architecture 'resnet2O'
                                         #   (did you mean 'resnet20'?); known: resnet20, ...
    MODELS.names("resnet*")              # fnmatch pattern, sorted
    MODELS.add_grammar(parse_variant)    # a family's variant names: "resnet20-lb[s2b3c2e6]" -> (base, kwargs)
    MODELS.resolve("resnet20-lb[s2b3c2e6]")   # ("resnet20", {"bottlenecks": ["s2b3c2e6"]})

Every unknown name anywhere in faultlab is reported the same way: ``did_you_mean`` is the one suggestion.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

from faultlab import FaultlabError

T = TypeVar("T")
Grammar = Callable[[str], "tuple[str, dict[str, Any]] | None"]
_CUTOFF = 0.6  # difflib's similarity ratio below which nothing is suggested
_SUGGESTED = 3  # equally close names named at most


class UnknownNameError(FaultlabError, LookupError):
    """A name that no registry entry or family grammar knows; the message is one line with a suggestion."""


def did_you_mean(name: str, candidates: Iterable[str], prefix: str = "") -> str:
    """`` (did you mean 'x'?)`` for the closest of ``candidates`` (shown with ``prefix``), or ``""``. Equally
    close candidates are all named, sorted (``'resnet2'``: ``'resnet20' or 'resnet32'``), at most three."""
    matcher = difflib.SequenceMatcher(b=str(name))
    scores: dict[str, float] = {}
    for candidate in set(candidates):
        matcher.set_seq1(candidate)
        if matcher.real_quick_ratio() >= _CUTOFF and matcher.quick_ratio() >= _CUTOFF \
                and (ratio := matcher.ratio()) >= _CUTOFF:  # quick upper bounds first, as difflib does
            scores[candidate] = ratio
    if not scores:
        return ""
    best = max(scores.values())
    tied = sorted(c for c, r in scores.items() if r == best)[:_SUGGESTED]
    return " (did you mean " + " or ".join(f"'{prefix}{c}'" for c in tied) + "?)"


class Registry(Generic[T]):
    """Name -> object (a builder function or a class), with one did-you-mean for unknown names.

    ``kind`` names the family in messages ("architecture", "fault", "dataset"); ``error`` is the exception
    an unknown name raises (a subclass of the family's own error, so callers keep catching what they did);
    ``also`` is what else is accepted besides the registered names (e.g. ``'timm:<name>'``).
    Iterating, ``len`` and ``in`` see the registered names in registration order; ``names`` sorts.
    """

    def __init__(self, kind: str, error: type[Exception] = UnknownNameError, also: str = "") -> None:
        self.kind, self.error, self.also = kind, error, also
        self._entries: dict[str, T] = {}
        self._grammars: list[Grammar] = []

    # ------------------------------------------------------------------ filing
    def register(self, obj: T | None = None, *, name: str | None = None) -> Any:
        """File ``obj`` under ``name``, else its ``name`` attribute (a str), else its ``__name__``; usable as a
        decorator with or without arguments. Filing a second object under a taken name is a ValueError."""
        if obj is None:
            return lambda o: self.register(o, name=name)
        key = name or (obj.name if isinstance(getattr(obj, "name", None), str) else obj.__name__)
        if self._entries.get(key, obj) is not obj:
            raise ValueError(f"{self.kind} {key!r} is registered twice")
        self._entries[key] = obj
        return obj

    def add_grammar(self, parse: Grammar) -> Grammar:
        """A family's variant-name grammar: ``parse(name)`` returns (registered base name, its kwargs) for a
        name in that family's syntax, and None for any other name. Usable as a decorator."""
        self._grammars.append(parse)
        return parse

    # ------------------------------------------------------------------ lookup
    def get(self, name: str) -> T:
        """The object filed under ``name``; ``error`` with a did-you-mean if there is none."""
        if name not in self._entries:
            raise self.unknown(name)
        return self._entries[name]

    __getitem__ = get

    def resolve(self, name: str) -> tuple[str, dict[str, Any]]:
        """(registered name, kwargs) for a registered name or a variant name some family grammar parses."""
        if name in self._entries:
            return name, {}
        for parse in self._grammars:
            parsed = parse(name)
            if parsed is not None:
                self.get(parsed[0])
                return parsed[0], dict(parsed[1])
        raise self.unknown(name)

    def knows(self, name: str) -> bool:
        """Whether ``name`` is registered or is a variant name of a registered base."""
        if name in self._entries:
            return True
        return any((p := parse(name)) is not None and p[0] in self._entries for parse in self._grammars)

    def unknown(self, name: str) -> Exception:
        """The one-line error for an unknown ``name``: a suggestion and the known names."""
        also = f", or {self.also}" if self.also else ""
        return self.error(
            f"unknown {self.kind} {name!r}{did_you_mean(name, self._entries)}; known: {', '.join(self.names())}{also}"
        )

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching the fnmatch ``pattern``, sorted."""
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    # ------------------------------------------------------------------ read-only mapping protocol
    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[str]:
        return list(self._entries)

    def values(self) -> list[T]:
        return list(self._entries.values())

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"
