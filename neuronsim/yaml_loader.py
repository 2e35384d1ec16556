"""The one YAML loader: topologies, workloads, sweeps and fault plans are all read here.

Every file neuronsim reads goes through :func:`load_yaml_file` (or :func:`load_yaml_text` for a
``--set`` value), so every file kind obeys the same rules and reports problems in one format, a
:class:`~neuronsim.errors.ConfigError` naming the file, the field path and the reason
(``bad.yaml: devices[3].index: duplicate key 'index' at line 12 (first at line 10)``):

* the file is UTF-8 text (a byte-order mark is allowed); anything else is refused with the offset and
  line of the first bad byte;
* one YAML document, safe tags only (no Python objects are ever built);
* a key given twice in one mapping is an error naming its line and the first one's (YAML's merge
  key ``<<`` may still be overridden, as the YAML spec says);
* nesting at most :data:`MAX_DEPTH` levels and at most :data:`MAX_NODES` values once aliases are
  expanded (what a deeply nested or "billion laughs" file would need), and no alias inside the node
  it names;
* a value the YAML constructor cannot build (an integer of more than 4,300 digits, a 13th month)
  names its line.

The parser is libyaml's (``yaml.CSafeLoader``) when PyYAML was built with it, else PyYAML's pure
Python one; the nodes are composed here, iteratively, from either parser's events, so both behave
the same (a test loads every case with both).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from neuronsim.errors import ConfigError, ConfigIssue

__all__ = ["MAX_DEPTH", "MAX_NODES", "PARSER", "load_yaml_file", "load_yaml_text", "load_mapping",
           "validate", "issues_from_validation", "field_path"]

MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences a file may have (A115; the deepest shipped file has 6)."""
MAX_NODES = 1_000_000
"""Most values a file may hold once its aliases are expanded (A115; the largest shipped file has about 450)."""

_FAST = getattr(yaml, "CSafeLoader", None)
PARSER = "libyaml" if _FAST is not None else "python"
"""Which parser :func:`load_yaml_text` uses by default: ``"libyaml"`` or ``"python"``."""
_MERGE = "tag:yaml.org,2002:merge"
# what YAML 1.1 does not allow in a stream (the readers of both parsers refuse it, in their own words)
_UNPRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


class _Frame:
    __slots__ = ("node", "path", "key", "keys", "size", "height")

    def __init__(self, node: Node, path: str) -> None:
        self.node = node
        self.path = path
        self.key: Node | None = None  # a mapping's key waiting for its value
        self.keys: dict[Any, int] = {}  # a mapping's keys -> the line each was first given on
        self.size = 1  # values in the node, aliases expanded
        self.height = 1  # levels of nesting in the node


def field_path(parent: str, key: Any) -> str:
    """``devices`` + 3 -> ``devices[3]``; ``devices[3]`` + ``index`` -> ``devices[3].index``."""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


class _Refusal(Exception):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


def _line(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "an unknown place"


def _scalar_key(loader: Any, node: Node) -> Any:
    """A plain mapping key as the constructor builds it (``1`` and ``0x1`` are one key), or None."""
    if not isinstance(node, ScalarNode) or node.tag == _MERGE:
        return None
    try:
        value = loader.construct_object(node)
        hash(value)
    except (yaml.YAMLError, ValueError, OverflowError, TypeError):
        return None  # the constructor reports it, with its line
    return value


def _compose(loader: Any) -> Node | None:
    """The document's node graph, built from the parser's events without recursion, checking the
    rules of the module docstring as it goes."""
    anchors: dict[str, tuple[Node, int, int]] = {}  # anchor -> (node, expanded size, height)
    opened: dict[str, Node] = {}  # anchors of collections still open
    stack: list[_Frame] = []
    root: list[Node] = []
    total = 0

    def child_path() -> str:
        if not stack:
            return ""
        top = stack[-1]
        if isinstance(top.node, SequenceNode):
            return field_path(top.path, len(top.node.value))
        if top.key is not None:
            shown = _scalar_key(loader, top.key)
            return field_path(top.path, shown if shown is not None else "?")
        return top.path

    def count(size: int, height: int, mark: Any) -> None:
        nonlocal total
        total += size
        if total > MAX_NODES:
            raise _Refusal(child_path(), f"more than {MAX_NODES:,} values once aliases are expanded "
                                         f"(at {_line(mark)})")
        if len(stack) + height > MAX_DEPTH:
            raise _Refusal(_too_deep(), f"nested deeper than {MAX_DEPTH} levels")

    def _too_deep() -> str:  # the top-level field the deep value is in (where both parsers stop differs)
        return stack[1].path if len(stack) > 1 else ""

    def attach(node: Node, size: int, height: int) -> None:
        if not stack:
            root.append(node)
            return
        top = stack[-1]
        top.size += size
        top.height = max(top.height, height + 1)
        if isinstance(top.node, SequenceNode):
            top.node.value.append(node)
        elif top.key is None:
            top.key = node
        else:
            key = _scalar_key(loader, top.key)
            if key is not None:
                line = top.key.start_mark.line + 1
                first = top.keys.get(key)
                if first is not None:
                    raise _Refusal(field_path(top.path, key), f"duplicate key {key!r} at line {line} "
                                                              f"(first at line {first})")
                top.keys[key] = line
            top.node.value.append((top.key, node))
            top.key = None

    def _step(event: Any) -> None:
        if isinstance(event, yaml.AliasEvent):
            found = None if event.anchor is None else anchors.get(event.anchor)  # (an alias names one)
            if found is None:
                where = "is inside the node it names" if event.anchor in opened else "names no anchor"
                raise _Refusal(child_path(), f"alias *{event.anchor} at {_line(event.start_mark)} {where}")
            node, size, height = found
            count(size, height, event.start_mark)
            attach(node, size, height)
        elif isinstance(event, yaml.ScalarEvent):
            tag = event.tag
            if tag is None or tag == "!":
                tag = loader.resolve(ScalarNode, event.value, event.implicit)
            # types-PyYAML: an event's marks may be the C parser's Mark; nodes declare only yaml.error.Mark
            node = ScalarNode(tag, event.value, event.start_mark, event.end_mark,  # type: ignore[arg-type]
                              style=event.style)
            if event.anchor is not None:
                anchors[event.anchor] = (node, 1, 0)
            count(1, 0, event.start_mark)
            attach(node, 1, 0)
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            kind = SequenceNode if isinstance(event, yaml.SequenceStartEvent) else MappingNode
            tag = event.tag
            if tag is None or tag == "!":
                tag = loader.resolve(kind, None, event.implicit)
            node = kind(tag, [], event.start_mark, None,  # type: ignore[arg-type]  # (marks: as above)
                        flow_style=event.flow_style)
            count(1, 1, event.start_mark)
            stack.append(_Frame(node, child_path()))
            if event.anchor is not None:
                opened[event.anchor] = node
        else:  # the end of a sequence or a mapping
            frame = stack.pop()
            frame.node.end_mark = event.end_mark
            for anchor, node in list(opened.items()):
                if node is frame.node:
                    del opened[anchor]
                    anchors[anchor] = (node, frame.size, frame.height)
            attach(frame.node, frame.size, frame.height)

    try:
        loader.get_event()  # StreamStart
        if loader.check_event(yaml.StreamEndEvent):
            return None
        loader.get_event()  # DocumentStart
        while not loader.check_event(yaml.DocumentEndEvent):
            _step(loader.get_event())
        loader.get_event()  # DocumentEnd
        if not loader.check_event(yaml.StreamEndEvent):
            event = loader.get_event()
            raise _Refusal("", f"a second document at {_line(event.start_mark)}: a file holds one")
        loader.get_event()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "not YAML"
        if "maximum nesting depth" in problem:  # libyaml's own limit (1,000 levels), met before ours
            raise _Refusal(_too_deep(), f"nested deeper than {MAX_DEPTH} levels") from None
        raise _Refusal(child_path(), f"malformed YAML at {_line(mark)}: {problem}") from None
    return root[0] if root else None


def _loader_class(pure: bool) -> type:
    return yaml.SafeLoader if pure or _FAST is None else _FAST


def load_yaml_text(text: str, source: str, *, pure: bool = False) -> Any:
    """The data of one YAML document (``None`` for an empty one); ``ConfigError`` on any problem.

    Args:
        text: the document.
        source: the file name (or ``--set KEY``) errors name.
        pure: use PyYAML's pure-Python parser even when libyaml is available (tests check both agree).
    """
    bad = _UNPRINTABLE.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise ConfigError(source, f"character U+{ord(bad.group()):04X} at line {line}, column {column} is not "
                                  "allowed in YAML (control characters other than tab and newlines)")
    loader = _loader_class(pure)(text)
    try:
        node = _compose(loader)
        if node is None:
            return None
        return _construct(loader, node)
    except _Refusal as exc:
        raise ConfigError(source, exc.reason, field=exc.path) from None
    except ConstructorError as exc:
        raise ConfigError(source, f"at {_line(exc.problem_mark)}: {exc.problem}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "not YAML"
        raise ConfigError(source, f"malformed YAML at {_line(mark)}: {problem}") from None
    except yaml.YAMLError as exc:  # the reader's: an unacceptable character
        raise ConfigError(source, f"malformed YAML: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()


def _short(value: str) -> str:
    return repr(value) if len(value) <= 40 else repr(value[:30]) + f"... ({len(value):,} characters)"


def _construct(loader: Any, node: Node) -> Any:
    """Python data of the composed ``node`` (a value the constructor cannot build names its line)."""
    base = loader.construct_object

    def construct_object(node: Node, deep: bool = False) -> Any:
        try:
            return base(node, deep)
        except (ValueError, OverflowError, TypeError) as exc:
            if "integer string conversion" in str(exc):
                exc = ValueError("an integer has at most 4,300 digits")
            raise ConstructorError(None, None, f"cannot read {_short(node.value)}: {exc}"
                                                    if isinstance(node, ScalarNode) else str(exc),
                                                    node.start_mark) from None

    loader.construct_object = construct_object
    return loader.construct_document(node)


def load_yaml_file(path: str | Path, source: str | None = None, *, pure: bool = False) -> Any:
    """The data of the YAML file at ``path``; every problem (cannot read, not UTF-8, the rules of the
    module docstring, malformed YAML) is a ``ConfigError`` naming ``source`` (default: the path)."""
    source = source or str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(source, "file not found") from None
    except IsADirectoryError:
        raise ConfigError(source, "is a directory, not a file") from None
    except OSError as exc:
        raise ConfigError(source, f"cannot read file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(source, f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start} (line {line}); "
                                  "save the file as UTF-8") from None
    return load_yaml_text(text, source, pure=pure)


def load_mapping(path: str | Path, source: str | None = None, *, pure: bool = False) -> dict[str, Any]:
    """:func:`load_yaml_file` for a file that must hold a mapping of fields."""
    source = source or str(path)
    data = load_yaml_file(path, source, pure=pure)
    if data is None:
        raise ConfigError(source, "the file is empty: it must hold a mapping of fields")
    if not isinstance(data, dict):
        raise ConfigError(source, f"the file must hold a mapping of fields, not {type(data).__name__}")
    return data


def _loc_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out = field_path(out, part)
    return out


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix + path if path.startswith("[") else f"{prefix}.{path}"


def issues_from_validation(exc: ValidationError) -> list[ConfigIssue]:
    """One ``ConfigIssue`` per pydantic error, with our field paths and plain reasons."""
    issues: list[ConfigIssue] = []
    errors = exc.errors(include_url=False)
    failed = [tuple(e["loc"]) for e in errors if e["type"] != "too_short"]
    for err in errors:
        if err["type"] == "too_short" and any(loc[:len(err["loc"])] == tuple(err["loc"]) for loc in failed):
            continue  # a list whose item failed is also "too short": pydantic's echo of the item's error
        loc = tuple(p for p in err["loc"] if p not in ("InstanceSpec", "ClusterSpec", "ModelSpec", "ArchitectureSpec"))
        path = _loc_path(loc)
        ctx = err.get("ctx") or {}
        kind = err["type"]
        if kind == "topology":
            path, reason = _join(path, ctx["path"]), ctx["reason"]
        elif kind in ("unit", "id_list"):
            reason = ctx["reason"]
        elif kind == "extra_forbidden":
            reason = "unknown key"
        elif kind == "missing":
            reason = "required field is missing"
        else:
            reason = err["msg"]
        issues.append(ConfigIssue(path, reason))
    return issues


def validate(model: Any, data: Any, source: str) -> Any:
    """``model.model_validate(data)``, a ``ValidationError`` becoming a ``ConfigError`` against ``source``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, issues_from_validation(exc)) from None
