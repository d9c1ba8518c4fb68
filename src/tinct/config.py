"""Training configurations as nested dataclasses: defaults < a YAML file < ``--set a.b=v``.

A method's training config is a dataclass (fields with defaults, help text in
``field(metadata={"help": ...})`` or :func:`tinct.options.option`), possibly nesting other
dataclasses (``model``, ``loss``...). :func:`config_fields` lists every leaf by its dotted name
(``model.disparities``), :func:`apply_values` sets leaves from typed values or command-line text
(types checked by :func:`tinct.options.convert`), :func:`read_yaml` reads a run file. Unknown
names are refused with a one-line :class:`~tinct.options.OptionError` that lists the valid ones.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tinct.errors import TinctError
from tinct.options import OptionError, convert, type_name

T = TypeVar("T")


@dataclass(frozen=True)
class ConfigField:
    """One leaf of a config: ``name`` is dotted (``loss.cycle``)."""

    name: str
    type: Any
    default: Any
    help: str

    @property
    def type_text(self) -> str:
        return type_name(self.type)


def _nested(tp: Any) -> type | None:
    """The dataclass inside ``tp`` (``Model`` or ``Model | None``), if any."""
    if dataclasses.is_dataclass(tp):
        return tp  # type: ignore[return-value]
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[0] if len(args) == 1 and dataclasses.is_dataclass(args[0]) else None


def config_fields(cls: type, prefix: str = "") -> list[ConfigField]:
    """Every leaf field of the dataclass ``cls`` (nested dataclasses flattened, dotted names)."""
    hints = typing.get_type_hints(cls)
    out: list[ConfigField] = []
    defaults = cls()
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        tp = hints[f.name]
        sub = _nested(tp)
        if sub is not None:
            out += config_fields(sub, f"{prefix}{f.name}.")
        else:
            helptext = f.metadata.get("help", "")
            out.append(ConfigField(prefix + f.name, tp, getattr(defaults, f.name), helptext))
    return out


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (already dotted keys are kept)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def apply_values(cfg: T, values: Mapping[str, Any], *, what: str = "config") -> T:
    """A copy of the dataclass ``cfg`` with dotted ``values`` set (typed or text; nested dicts allowed).

    Raises:
        OptionError: an unknown name or a value of the wrong type.
    """
    leaves = {f.name: f for f in config_fields(type(cfg))}
    for key, value in flatten(values).items():
        key = key.replace("-", "_")
        if key not in leaves:
            valid = ", ".join(sorted(leaves))
            raise OptionError(f"{what}: unknown setting '{key}'; valid settings: {valid}")
        cfg = _set(cfg, key.split("."), convert(value, leaves[key].type, what=f"{what}: '{key}'"))
    return cfg


def _set(obj: Any, path: list[str], value: Any) -> Any:
    head, rest = path[0], path[1:]
    if rest:
        value = _set(getattr(obj, head), rest, value)
    try:
        return dataclasses.replace(obj, **{head: value})
    except TinctError as exc:
        raise OptionError(str(exc)) from None


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A run file: a YAML mapping (nested sections allowed); a clear error if it is not one."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise TinctError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        first = " ".join(str(exc).split())
        raise TinctError(f"{path}: not valid YAML ({first})") from None
    if not isinstance(data, Mapping):
        raise TinctError(f"{path}: a config file must be a mapping of settings, got {type(data).__name__}")
    return dict(data)

