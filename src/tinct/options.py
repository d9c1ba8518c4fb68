"""Method options as dataclasses: declared once, typed, documented, checked in one place.

A method declares its options as a frozen dataclass whose fields carry their help text::

    @dataclass(frozen=True)
    class LevinOptions:
        max_pixels: int = option(2_100_000, "largest image solved at full resolution")
        refine: bool = option(False, "refine the float32 solve in float64")

:func:`build_options` turns user values (typed Python values from the API, or text from
``-O key=value`` on the command line) into an instance: unknown names and values of the wrong
type raise :class:`OptionError` (one line that lists the valid options), never a constructor
``TypeError``. :func:`describe_options` lists name, type, default and help (``tinct methods NAME``).
Range checks live in the dataclass's ``__post_init__`` and raise :class:`OptionError` too.
Supported field types: ``bool``, ``int``, ``float``, ``str``, ``Literal[...]``, ``X | None``, and
JSON-shaped values (lists, tuples, dicts) given as JSON text on the command line.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, Union

from tinct.errors import TinctError

T = TypeVar("T")

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NONE = {"none", "null", ""}


class OptionError(TinctError):
    """A bad option name or value: a usage error (the CLI exits with status 2)."""


def check_short_side(value: int | None) -> None:
    """:class:`OptionError` unless a working ``short_side`` option is unset, 0 (full resolution) or
    at least 16 px (the methods that run a network at a working size: the NIR methods, the GANs)."""
    if value is not None and value != 0 and value < 16:
        raise OptionError(f"short_side must be 0 (full resolution) or at least 16, got {value}")


def option(default: Any, help: str, **kw: Any) -> Any:  # noqa: A002 - argparse's word for it
    """A dataclass field with ``help`` in its metadata (mutable defaults are copied per instance)."""
    if isinstance(default, list | dict | set):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"help": help},
                                 **kw)
    return dataclasses.field(default=default, metadata={"help": help}, **kw)


@dataclass(frozen=True)
class NoOptions:
    """The options of a method that has none."""


@dataclass(frozen=True)
class OptionSpec:
    """One option as ``tinct methods NAME`` shows it."""

    name: str
    type: str
    default: Any
    help: str


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def type_name(tp: Any) -> str:
    """A short readable name of a field type: ``int``, ``bool``, ``'left'|'right'``, ``int | None``."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "|".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "None"
    if origin is not None:
        return getattr(origin, "__name__", str(origin)) + "[...]"
    return getattr(tp, "__name__", str(tp))


def describe_options(cls: type) -> list[OptionSpec]:
    """Name, type, default and help of every field of the options dataclass ``cls``."""
    hints = _hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        out.append(OptionSpec(f.name, type_name(hints[f.name]), default, f.metadata.get("help", "")))
    return out


def summary_line(cls: type) -> str:
    """``a (int, default 3), b (bool, default False)`` — the valid options, for error messages."""
    specs = describe_options(cls)
    if not specs:
        return "this method takes no options"
    return "valid options: " + ", ".join(f"{s.name} ({s.type}, default {s.default!r})" for s in specs)


def convert(value: Any, tp: Any, *, what: str) -> Any:
    """``value`` (a typed value or command-line text) as type ``tp``; :class:`OptionError` if it is not."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if type(None) in args and (value is None or (isinstance(value, str) and value.lower() in _NONE)):
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return convert(value, arg, what=what)
            except OptionError as exc:
                errors.append(str(exc))
        raise OptionError(errors[0] if len(errors) == 1 else f"{what} must be {type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value in args:
            return value
        raise OptionError(f"{what} must be one of {', '.join(repr(a) for a in args)}, got {value!r}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise OptionError(f"{what} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.replace("_", ""))
            except ValueError:
                pass
        raise OptionError(f"{what} must be an integer, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise OptionError(f"{what} must be a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise OptionError(f"{what} must be text, got {value!r}")
    # containers (lists of boxes and the like): JSON text on the command line, checked loosely
    container = origin or tp
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise OptionError(f"{what} must be JSON ({type_name(tp)}), got {value!r}") from None
    if container in (list, tuple, typing.Sequence, typing.MutableSequence) or \
            getattr(container, "__name__", "") in ("Sequence", "list", "tuple"):
        if isinstance(value, list | tuple):
            return value
        raise OptionError(f"{what} must be a list, got {value!r}")
    if container in (dict, Mapping) and isinstance(value, dict):
        return value
    if isinstance(value, container if isinstance(container, type) else object):
        return value
    raise OptionError(f"{what} must be {type_name(tp)}, got {value!r}")


def build_options(cls: type[T], values: Mapping[str, Any] | T | None = None, *, owner: str = "") -> T:
    """An instance of the options dataclass ``cls`` from ``values``.

    Args:
        cls: a dataclass whose fields all have defaults.
        values: ``{name: value}`` (values typed or command-line text), an instance of ``cls``
            (returned as is), or None (all defaults). Dashes in names are read as underscores.
        owner: the method's name, for messages.

    Raises:
        OptionError: an unknown name, a value of the wrong type, or a value the dataclass refuses.
    """
    if isinstance(values, cls):
        return values
    values = dict(values or {})
    prefix = f"{owner}: " if owner else ""
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for raw_key, value in values.items():
        key = str(raw_key).replace("-", "_")
        if key not in names:
            raise OptionError(f"{prefix}unknown option '{raw_key}'; {summary_line(cls)}")
        kwargs[key] = convert(value, hints[key], what=f"{prefix}option '{key}'")
    try:
        return cls(**kwargs)
    except OptionError:
        raise
    except TinctError as exc:
        raise OptionError(str(exc)) from None
    except (TypeError, ValueError) as exc:
        raise OptionError(f"{prefix}bad options: {exc}; {summary_line(cls)}") from None


def parse_assignments(pairs: list[str] | tuple[str, ...], *, flag: str = "-O") -> dict[str, str]:
    """``["sigma=5", "mode=fast"]`` -> ``{"sigma": "5", "mode": "fast"}`` (values stay text).

    Raises:
        OptionError: an item without ``=`` or with an empty name.
    """
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key or not key.replace(".", "_").replace("-", "_").isidentifier():
            raise OptionError(f"bad {flag} '{pair}': expected KEY=VALUE, e.g. {flag} sigma=5")
        out[key] = value
    return out
