"""The one configuration language of every command: jsonargparse parsers (the library LightningCLI uses), the
YAML loader every config file is read with, and errors of one line.

    parser = command_parser("faultlab export", __doc__)
    parser.add_argument("--out", type=str, required=True, help="output file")
    cfg = parse(parser, argv)      # every command takes --config FILE and --print_config

Options take dashes or underscores (``--eval-subset`` is ``--eval_subset``, the key of the config file), and
a list option takes a comma list (``--rates 0,0.1`` is ``--rates [0,0.1]``). A parse error is a ``ConfigError``
of one line with the closest option (``--tirals``: did you mean ``--trials``?); there are no abbreviations.

YAML is read by :class:`ConfigLoader`, a ``yaml.SafeLoader`` (no Python objects) that refuses a key given twice
in one mapping and aliases that expand past ``MAX_NODES`` values (a "billion laughs" file), each in one line
naming the key and line. :func:`install` makes it jsonargparse's loader, so study files, ``--config`` files and
``faultlab fit`` configs are all read by it. Nothing here imports torch.
"""

from __future__ import annotations

import difflib
import json
import re
import typing
from argparse import ArgumentError
from collections import UserDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from faultlab import FaultlabError

MAX_NODES = 100_000  # values of a config file after expanding its aliases (a study has a few thousand)


class Options(UserDict):
    """A mapping of options jsonargparse passes on as it is given: class paths in it are left to the parser they
    are meant for (a study's ``training.trainer``, ``training.model``, ``methods[].fault_aware``); the parser
    checks only that it is a mapping. (A ``dict[str, Any]`` would have jsonargparse expand each class path.)"""


def _options(value: Any) -> Options:
    if isinstance(value, str):
        value = load_yaml(value)
    if hasattr(value, "as_dict"):  # a jsonargparse Namespace
        value = value.as_dict()
    if not isinstance(value, dict | UserDict):
        raise ValueError(f"expected a mapping, got {value!r}")
    return Options(value)


class ConfigError(FaultlabError):
    """A command line or config file that does not parse; the message names the key and the fix. ``key`` holds the
    key alone (``trainer.max_epochs``; empty when the problem has none), ``text`` what is wrong with it."""

    def __init__(self, message: str, key: str = "", text: str = "") -> None:
        super().__init__(message)
        self.key, self.text = key, text or message


# ------------------------------------------------------------------------------------ YAML


class ConfigLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that reads ``1e-3`` as a number (as jsonargparse does), refuses duplicated keys, and
    bounds the size of the document its aliases expand to."""

    source = "config"

    def construct_document(self, node: yaml.Node) -> Any:
        _check_expansion(node, self.source)
        return super().construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, typing.Hashable) and key in seen:
                raise ConfigError(f"{self.source}: key {key!r} is given twice (lines {seen[key]} and {line}); "
                                  "a mapping takes each key once, delete one")
            if isinstance(key, typing.Hashable):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _float_resolver() -> None:
    """YAML 1.2 numbers: ``1e-3`` and ``1.5e3`` are floats (YAML 1.1 reads them as strings); dates stay strings."""
    dropped = ("tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp")
    resolvers = {k: [(tag, rx) for tag, rx in v if tag not in dropped]
                 for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    ConfigLoader.yaml_implicit_resolvers = resolvers
    ConfigLoader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"""^(?:
        [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""", re.X), list("-+0123456789."))


_float_resolver()


def _check_expansion(root: yaml.Node, source: str) -> None:
    """Refuse a document whose aliases expand to more than MAX_NODES values, or refer to themselves."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise ConfigError(f"{source}: line {node.start_mark.line + 1}: an alias refers to the node that "
                              "contains it; a config must be a finite tree")
        open_nodes.add(key)
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(n) for n in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        else:
            total = 1
        open_nodes.discard(key)
        if total > MAX_NODES:
            raise ConfigError(f"{source}: line {node.start_mark.line + 1}: its aliases expand to more than "
                              f"{MAX_NODES:,} values (a 'billion laughs' file?); write the values out")
        sizes[key] = total
        return total

    size(root)


def load_yaml(text: str, path: str | Path = "") -> Any:
    """Parse ``text`` with :class:`ConfigLoader`; ``path`` names the file in messages."""
    loader = ConfigLoader(text)
    loader.source = str(path) or "config"
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_yaml(path: str | Path, what: str = "config file") -> Any:
    """The YAML file ``path``, or one line: missing, unreadable, malformed (with line and column)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what} not found: {p}" if not p.is_dir() else f"{what} {p} is a folder")
    try:
        return load_yaml(p.read_text(), p)
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{what} {p}: not readable as text ({type(err).__name__})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{p}: malformed YAML{where}: {getattr(err, 'problem', None) or err}") from None


def install() -> None:
    """Make :func:`load_yaml` jsonargparse's YAML loader (config files and values given on the command line), and
    :class:`Options` a type it knows."""
    from jsonargparse import set_loader
    from jsonargparse.typing import register_type

    set_loader("yaml", load_yaml, exceptions=(yaml.YAMLError,))
    register_type(Options, serializer=lambda value: dict(value), deserializer=_options)


# ------------------------------------------------------------------------------------ parsers


def command_parser(prog: str, description: str | None = None):
    """A jsonargparse parser that raises instead of printing the usage, takes no abbreviations, and has
    ``--config FILE`` (any number, later ones win) and ``--print_config``."""
    from argparse import RawDescriptionHelpFormatter

    from jsonargparse import ActionConfigFile, ArgumentParser, DefaultHelpFormatter

    class Formatter(DefaultHelpFormatter, RawDescriptionHelpFormatter):
        """jsonargparse's help (types, defaults, config keys) with the description's line breaks kept."""

    install()
    parser = ArgumentParser(prog=prog, description=description, exit_on_error=False, allow_abbrev=False,
                            formatter_class=Formatter)
    parser.add_argument("--config", action=ActionConfigFile, help="a YAML file of these options (--print_config "
                        "writes one); options given after it override it")
    return parser


def add_help(parser, cls: type, prefix: str = "") -> None:
    """The help of each option of a dataclass's fields (``field(metadata={"help": ...})``), nested ones too."""
    import dataclasses

    actions = options(parser)
    for f in dataclasses.fields(cls):
        action = actions.get(f"--{prefix}{f.name}")
        if action is not None and "help" in f.metadata:
            action.help = f.metadata["help"].replace("%", "%%")
        inner = typing.get_type_hints(cls).get(f.name)
        if dataclasses.is_dataclass(inner):
            add_help(parser, inner, f"{prefix}{f.name}.")


def parse(parser, argv: Sequence[str]):
    """``parser.parse_args`` of ``argv`` after :func:`normalize`; an error is one ConfigError line."""
    try:
        return parser.parse_args(normalize(list(argv), parser))
    except ArgumentError as err:
        raise config_error(err, parser, parser.prog) from None


def config_error(err: BaseException, parser=None, prog: str | None = None) -> ConfigError:
    """The ConfigError of a jsonargparse error (:func:`problem`), with a pointer to ``prog --help``."""
    key, text = problem(str(err), parser)
    shown = f"--{key}" if parser is not None and f"--{key}" in options(parser) else key
    return ConfigError((f"{shown}: {text}" if key else text) + (f" (see '{prog} --help')" if prog else ""), key, text)


def options(parser) -> dict[str, Any]:
    """Option string -> action, for every ``--option`` of ``parser`` (nested keys included)."""
    return {s: a for a in parser._actions for s in a.option_strings if s.startswith("--")}


def normalize(argv: list[str], parser) -> list[str]:
    """``--a-b`` -> ``--a_b`` where that is the option, and comma lists -> YAML lists for list options."""
    known = options(parser)
    out: list[str] = []
    pending = None  # the list option whose value comes next
    for arg in argv:
        if pending is not None:
            out.append(_as_list(arg, pending))
            pending = None
            continue
        if not arg.startswith("--") or arg == "--":
            out.append(arg)
            continue
        name, eq, value = arg.partition("=")
        if name not in known and "--" + name[2:].replace("-", "_") in known:
            name = "--" + name[2:].replace("-", "_")
        item = _list_item(known.get(name))
        if item is not None and eq:
            value = _as_list(value, item)
        elif item is not None:
            pending = item
        out.append(name + eq + value)
    return out


def _list_item(action) -> type | None:
    """The item type of a list-typed option (``Sequence[float]``, ``tuple[str, ...] | None``), else None."""
    hint = getattr(action, "_typehint", None)
    for tp in (hint, *typing.get_args(hint)):
        if typing.get_origin(tp) in (list, tuple, Sequence):
            args = [a for a in typing.get_args(tp) if a is not Ellipsis]
            return args[0] if args else str
    return None


def _as_list(value: str, item: type) -> str:
    """``"0,0.1"`` -> ``"[0,0.1]"`` (strings quoted); a value already in brackets stays as it is."""
    text = value.strip()
    if text.startswith("[") or text in ("null", "None", ""):
        return value
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if item is str:
        return json.dumps(parts)
    return "[" + ",".join(parts) + "]"


# ------------------------------------------------------------------------------------ errors

_NOISE = re.compile(r"^(Does not validate against any of the Union subtypes|Subtypes: .*|Errors:|Expected a "
                    r"<class 'NoneType'>|Given value type: .*|Given value: .*|Problem with given class_path .*|"
                    r"Subclass types expect one of:|a class path \(str\)|a dict with(out)? class_path .*|"
                    r"a dict with parameters accepted by the base class .*)$")
_PREFIX = re.compile(r"^Type .* expects a function or a callable class: ")


def problem(message: str, parser=None) -> tuple[str, str]:
    """(key, what is wrong) of a jsonargparse error, on one line; for an unknown option or class the closest
    known one (from ``parser``'s options or the class's parameters)."""
    lines = [line.strip().removeprefix("- ") for line in message.splitlines()
             if line.strip() and not line.strip().startswith("Given value")]
    keys = [m for line in lines for m in re.findall(r'Parser key "([^"]+)"', line)]
    classes = [m for line in lines for m in re.findall(r"(?:Problem with given class_path '|class_path=')([^']+)'",
                                                        line)]
    bases = [m for line in lines for m in re.findall(r"Subtypes: \[<class '([^']+)'>", line)]
    body = [re.sub(r"Expected a <class '(?:[\w.]+\.)?(\w+)'>", r"expected \1", _PREFIX.sub("", line))
            for line in lines if not _NOISE.match(line) and not line.startswith("Parser key ")]
    body = [re.sub(r"\. Got value: Namespace\(.*$", "", line) for line in body]
    body = [re.sub(r"^Not of type \w+: ", "", line).replace("does not conform to restriction", "does not satisfy")
            for line in body]
    text = "; ".join(dict.fromkeys(body)) or " ".join(message.split())
    key = ".".join(dict.fromkeys(keys))
    unknown = _unknown_name(text)
    if unknown is not None:
        group, name = unknown
        where = ".".join(p for p in (key, group) if p)
        if classes:
            of, params = classes[-1].rsplit(".", 1)[-1], _parameters(classes[-1])
            hint = _hint(name, params) or "; allowed: " + ", ".join(params)
            return f"{where}.{name}" if where else name, f"not a parameter of {of}{hint}"
        return (f"{where}.{name}" if where else name), f"unknown option{_hint(name, _parser_keys(parser, where))}"
    bad = re.search(r"Expected a dot import path string: ([^\s;]+)", text)
    if bad is not None:
        known = _subclass_names(bases[-1]) if bases else []
        return key, f"unknown class {bad.group(1)!r}{_hint(bad.group(1), known)}"
    return key, text


def _unknown_name(text: str) -> tuple[str, str] | None:
    """(group, name) of an option that was not accepted, from jsonargparse's message."""
    for pattern in (r"Group '([^']+)' does not accept option '([^']+)'", r"Key '([^']+)' is not expected()"):
        m = re.search(pattern, text)
        if m:
            return (m.group(1), m.group(2)) if m.group(2) else ("", m.group(1))
    m = re.search(r"Option '([^']+)' is not accepted", text) or re.search(r"unrecognized arguments: (\S+)", text)
    return ("", m.group(1)) if m else None


def _hint(name: str, known: Sequence[str]) -> str:
    """`` (did you mean X?)`` for the closest of ``known`` (a bare ``kinds`` finds ``layers.kinds``)."""
    bare = name.lstrip("-").split("=")[0]
    dashes = "--" if name.startswith("--") else ""
    plain = [k.lstrip("-") for k in known]
    close = difflib.get_close_matches(bare.replace("-", "_"), plain, n=1, cutoff=0.6)
    close = close or [k for k in plain if k.endswith("." + bare.replace("-", "_"))][:1]
    return f" (did you mean {dashes}{close[0]}?)" if close else ""


def _parser_keys(parser, group: str = "") -> list[str]:
    if parser is None:
        return []
    keys = [s for s in options(parser) if s not in ("--help", "--print_config")]
    if group:
        inner = [k.removeprefix(f"--{group}.") for k in keys if k.startswith(f"--{group}.")]
        return inner or keys
    return keys


def _parameters(class_path: str) -> list[str]:
    """The parameter names of a class (its ``__init__``, following ``**kwargs`` to its bases) or dataclass."""
    try:
        from jsonargparse._parameter_resolvers import get_signature_parameters
        from jsonargparse._util import import_object

        return [p.name for p in get_signature_parameters(import_object(class_path))]
    except Exception:  # the hint is a courtesy: no hint rather than a second error
        return []


def _subclass_names(base_path: str) -> list[str]:
    try:
        from jsonargparse._util import import_object

        todo, names = [import_object(base_path)], []
        while todo:
            for sub in todo.pop().__subclasses__():
                names.append(sub.__name__)
                todo.append(sub)
        return names
    except Exception:
        return []


def one_line(err: BaseException) -> str:
    """The first line of an exception's message (``TypeError: ...``), at most 300 characters."""
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return first[:300]

