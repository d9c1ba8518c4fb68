"""What the command line must know of a method before loading it: a static copy of registry data.

Importing a method's package loads torch (2-9 s), so ``tinct colorize`` checks its arguments
(method name, needed inputs, ``-O`` option names and simple types, ``--weights``) against
:data:`METHODS` first and reports a usage error within a fraction of a second. The registry stays
the one source of truth: the table is generated from it (``python -m tinct.cli.catalog``
rewrites the block below) and ``tests/test_cli_usage.py`` fails when the two differ. A method
already registered in this process (a test's fake, a plugin) is read from the registry itself.
"""

from __future__ import annotations

import pprint
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tinct.options import OptionError, convert

# BEGIN GENERATED (python -m tinct.cli.catalog)
METHODS: dict[str, dict[str, Any]] = {
    'caption': {'accepts': ['caption'],
                'needs': [],
                'options': [['weights', 'str'],
                            ['conditioning', "'film'|'concat'|'attend'|'none' | None"],
                            ['work_size', 'int | None'],
                            ['short_side', 'int | None'],
                            ['temperature', 'float | None'],
                            ['prior_correction', 'float | None'],
                            ['mix', 'float | None'],
                            ['saturation', 'float'],
                            ['guidance', 'float | None']],
                'weights': ['default', 'concat', 'none']},
    'cyclecnn': {'accepts': ['reference'],
                 'needs': ['reference'],
                 'options': [['weights', 'str'],
                             ['disparities', "int | 'auto' | None"],
                             ['reference_side', "'left'|'right'"],
                             ['refine', 'bool'],
                             ['optimized', 'bool'],
                             ['strip_rows', 'int | None']],
                 'weights': ['default', 'supervised']},
    'cyclegan': {'accepts': [],
                 'needs': [],
                 'options': [['weights', 'str'],
                             ['keep_luma', 'bool'],
                             ['saturation', 'float'],
                             ['short_side', 'int | None']],
                 'weights': ['default', 'photos']},
    'deepcolor': {'accepts': [],
                  'needs': [],
                  'options': [['weights', 'str'],
                              ['work_pixels', 'int | None'],
                              ['refine', 'bool | None'],
                              ['clustering', 'bool | None'],
                              ['strip_rows', 'int'],
                              ['saturation', 'float']],
                  'weights': ['default', 'warm']},
    'fusion': {'accepts': [],
               'needs': [],
               'options': [['weights', 'str'],
                           ['work_size', 'int | None'],
                           ['short_side', 'int | None'],
                           ['temperature', 'float | None'],
                           ['prior_correction', 'float | None'],
                           ['mix', 'float | None'],
                           ['gain', 'float | None'],
                           ['focus', 'float | None'],
                           ['saturation', 'float']],
               'weights': ['default']},
    'gray': {'accepts': [], 'needs': [], 'options': [], 'weights': []},
    'levin': {'accepts': ['hints'],
              'needs': ['hints'],
              'options': [['max_pixels', 'int'], ['refine', 'bool']],
              'weights': []},
    'lineart': {'accepts': ['hints'],
                'needs': [],
                'options': [['weights', 'str'], ['tile', 'int'], ['convert', "'auto'|'never'"]],
                'weights': ['default']},
    'nir-acgan': {'accepts': [],
                  'needs': [],
                  'options': [['weights', 'str'], ['strip_rows', 'int'], ['short_side', 'int | None']],
                  'weights': ['default']},
    'nir-scgan': {'accepts': [],
                  'needs': [],
                  'options': [['weights', 'str'], ['strip_rows', 'int'], ['short_side', 'int | None']],
                  'weights': ['default']},
    'nir-snet': {'accepts': [],
                 'needs': [],
                 'options': [['weights', 'str'], ['strip_rows', 'int'], ['short_side', 'int | None']],
                 'weights': ['default']},
    'nir-unet': {'accepts': [],
                 'needs': [],
                 'options': [['weights', 'str'], ['strip_rows', 'int'], ['short_side', 'int | None']],
                 'weights': ['default']},
    'reinhard': {'accepts': ['reference'],
                 'needs': ['reference'],
                 'options': [['min_std', 'float']],
                 'weights': []},
    'spynco': {'accepts': [],
               'needs': [],
               'options': [['weights', 'str'],
                           ['keep_luma', 'bool'],
                           ['saturation', 'float'],
                           ['short_side', 'int | None']],
               'weights': ['default', 'photos']},
    'stereocopy': {'accepts': ['reference'],
                   'needs': ['reference'],
                   'options': [['reference_side', "'left'|'right'"],
                               ['num_disparities', 'int'],
                               ['guided_radius', 'int']],
                   'weights': []},
    'tcvc': {'accepts': [],
             'needs': [],
             'options': [['cut_occluded', 'float'],
                         ['cut_histogram', 'float'],
                         ['weights', 'str'],
                         ['work_size', 'int'],
                         ['warp', 'bool'],
                         ['saturation', 'float']],
             'weights': ['default']},
    'video-blend': {'accepts': ['caption', 'hints', 'reference'],
                    'needs': [],
                    'options': [['cut_occluded', 'float'],
                                ['cut_histogram', 'float'],
                                ['inner', 'str'],
                                ['inner_options', 'dict'],
                                ['alpha', 'float'],
                                ['keyframe_alpha', 'float'],
                                ['keep_saturation', 'bool'],
                                ['flow_scale', 'float']],
                    'weights': []},
    'welsh': {'accepts': ['reference'],
              'needs': ['reference'],
              'options': [['samples', 'int'],
                          ['swatches', 'list | None'],
                          ['weight_lum', 'float'],
                          ['seed', 'int']],
              'weights': []},
}
# END GENERATED

_SIMPLE = {"int": int, "float": float, "bool": bool, "str": str, "None": type(None)}


@dataclass(frozen=True)
class MethodFacts:
    """The facts of one method that argument checks need.

    Attributes:
        needs / accepts: input kinds (``reference``, ``hints``, ``caption``); accepts includes needs.
        options: ``(name, type name)`` pairs as :func:`tinct.options.describe_options` gives them.
        weights: the names of the bundled weight variants (empty: not trainable).
    """

    name: str
    needs: frozenset[str]
    accepts: frozenset[str]
    options: tuple[tuple[str, str], ...]
    weights: tuple[str, ...]

    def check_options(self, values: dict[str, str]) -> None:
        """Refuse unknown option names and values of the wrong simple type (:class:`OptionError`);
        range checks stay with the options dataclass, after loading."""
        types = dict(self.options)
        for raw, value in values.items():
            key = raw.replace("-", "_")
            if key not in types:
                valid = ", ".join(f"{n} ({t})" for n, t in self.options) or "none"
                raise OptionError(f"{self.name}: unknown option '{raw}'; valid options: {valid}")
            tp = _type_from_name(types[key])
            if tp is not None:
                convert(value, tp, what=f"{self.name}: option '{key}'")


def _type_from_name(name: str) -> Any:
    """The type named by ``type_name`` for ``int``, ``float``, ``bool``, ``str``, literals and
    unions of them; None for anything else (not checked before loading)."""
    parts: list[Any] = []
    for part in name.split(" | "):
        if part in _SIMPLE:
            parts.append(_SIMPLE[part])
        elif re.fullmatch(r"'[^']*'(\|'[^']*')*", part):
            parts.append(Literal[tuple(p.strip("'") for p in part.split("|"))])
        else:
            return None
    return parts[0] if len(parts) == 1 else typing.Union[tuple(parts)]  # noqa: UP007 - built at run time


def facts_of(info: Any) -> MethodFacts:
    """:class:`MethodFacts` of a registry :class:`~tinct.registry.MethodInfo`."""
    return MethodFacts(info.name, frozenset(info.needs), frozenset(info.accepts),
                       tuple((s.name, s.type) for s in info.option_specs()), tuple(info.weights))


def lookup(name: str) -> MethodFacts | None:
    """The facts of method ``name`` without importing any method package; None if unknown."""
    from tinct import registry

    if name in registry._REGISTRY:  # registered in this process already: the registry itself
        return facts_of(registry._REGISTRY[name])
    entry = METHODS.get(name)
    if entry is None:
        return None
    return MethodFacts(name, frozenset(entry["needs"]), frozenset(entry["accepts"]),
                       tuple((n, t) for n, t in entry["options"]), tuple(entry["weights"]))


def known_names() -> list[str]:
    """Every method name in the table or registered in this process."""
    from tinct import registry

    return sorted(set(METHODS) | set(registry._REGISTRY))


def generate() -> dict[str, dict[str, Any]]:
    """The table from the registry (imports every method package)."""
    import tinct

    return {i.name: {"accepts": sorted(i.accepts), "needs": sorted(i.needs),
                     "options": [[s.name, s.type] for s in i.option_specs()], "weights": list(i.weights)}
            for i in tinct.list_methods()}


def main() -> None:
    """Rewrite the generated block of this file from the registry."""
    path = Path(__file__)
    text = path.read_text()
    begin, end = "# BEGIN GENERATED (python -m tinct.cli.catalog)\n", "# END GENERATED\n"
    table = pprint.pformat(generate(), width=100, sort_dicts=True)
    block = "METHODS: dict[str, dict[str, Any]] = {\n    " + table[1:-1].replace("\n ", "\n    ") + ",\n}\n"
    head, rest = text.split(begin)
    path.write_text(head + begin + block + end + rest.split(end, 1)[1])


if __name__ == "__main__":
    main()
