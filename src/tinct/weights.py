"""Weights on disk: ``*.safetensors`` (never pickle) plus a JSON card beside them.

A card is a :class:`WeightCard`: ``method``, ``config`` (the model's configuration: everything
needed to rebuild the network, e.g. cyclecnn's disparity range), ``data``, ``split``,
``commit``, ``metrics`` (with the protocol that produced them), ``size_bytes`` and any further
keys in ``extra``. Bundled weights live in ``tinct/methods/<name>/weights/<variant>.safetensors``;
a method registers the names of its variants (``@register(weights={...})``) and
:func:`resolve` turns a variant name or a path into a file, the same way for every method.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # torch is imported where tensors are read or written, not by `import tinct.weights`
    import torch

from tinct.errors import TinctError

T = TypeVar("T")
DEFAULT_VARIANT = "default"


@dataclass
class WeightCard:
    """What a weights file says about itself (the JSON beside the ``.safetensors``).

    Attributes:
        method: the registry name of the method the weights belong to.
        config: the model configuration (sections such as ``"model"``; see :meth:`section`).
        data, split: what the weights were trained on.
        commit: the git commit of the training code.
        metrics: held-out scores with the protocol that produced them.
        size_bytes: size of the ``.safetensors`` file.
        extra: every other key of the card (training time, parameters, style, ...).
    """

    method: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    data: Any = None
    split: Any = None
    commit: str = "unknown"
    metrics: dict[str, Any] = field(default_factory=dict)
    size_bytes: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, card: Mapping[str, Any]) -> WeightCard:
        """A card from its JSON dict; unknown keys go to :attr:`extra`."""
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in card.items() if k in names}
        rest = {k: v for k, v in card.items() if k not in names | {"extra"}}
        extra = {**dict(card.get("extra", {})), **rest}
        return cls(**known, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """The JSON dict (``extra``'s keys at the top level, as written by :func:`save_weights`)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**out, **self.extra}

    def section(self, key: str, cls: type[T] | None = None, *, path: str | Path = "") -> Any:
        """``config[key]`` — as a dict, or as dataclass ``cls`` built from it.

        Missing sections give ``cls()`` (all defaults) or ``{}``; keys the dataclass does not
        have raise a :class:`TinctError` naming the file, so a card from another model version
        is refused with a clear line instead of a ``TypeError``.
        """
        value = self.config.get(key, {})
        if not isinstance(value, Mapping):
            raise TinctError(f"weights card {path or self.method}: config.{key} is not a mapping")
        if cls is None:
            return dict(value)
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(value) - names)
        if unknown:
            raise TinctError(f"weights card {path or self.method}: config.{key} has unknown keys {unknown} "
                             f"for {cls.__name__}; these weights are from another model version")
        hints = {f.name: f.type for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        kwargs = {k: tuple(v) if isinstance(v, list) and "tuple" in str(hints[k]) else v
                  for k, v in value.items()}
        return cls(**kwargs)


def git_commit() -> str:
    """The current git commit of the working tree (``"unknown"`` outside a checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def save_weights(path: str | Path, tensors: dict[str, torch.Tensor],
                 card: WeightCard | Mapping[str, Any]) -> Path:
    """Write ``path`` (``.safetensors``) and ``path`` with ``.json`` (the card), atomically."""
    path = Path(path).with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        from safetensors.torch import save_file
        save_file(tensors, tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; weights are read by other users' processes
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    data = card.to_dict() if isinstance(card, WeightCard) else dict(card)
    if data.get("commit") in (None, "unknown"):
        data["commit"] = git_commit()
    data["size_bytes"] = path.stat().st_size
    card_path = path.with_suffix(".json")
    tmp_card = card_path.with_suffix(".json.tmp")
    tmp_card.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp_card, card_path)
    return path


def read_card(path: str | Path) -> WeightCard:
    """The card beside a weights file (an empty card if there is none)."""
    card_path = Path(path).with_suffix(".json")
    if not card_path.is_file():
        return WeightCard()
    try:
        return WeightCard.from_dict(json.loads(card_path.read_text()))
    except (json.JSONDecodeError, TypeError, AttributeError) as exc:
        raise TinctError(f"cannot read the weights card {card_path}: {exc}") from None


def load_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], WeightCard]:
    """Read tensors and card (an empty card if the JSON is missing)."""
    path = Path(path).with_suffix(".safetensors")
    if not path.is_file():
        raise TinctError(f"weights not found: {path}")
    try:
        from safetensors.torch import load_file
        tensors = load_file(str(path))
    except Exception as exc:  # safetensors raises several types for a damaged file
        raise TinctError(f"cannot read weights {path}: {exc}") from None
    return tensors, read_card(path)


def warm_start(net: torch.nn.Module, method: str, init: str | Path, *, prefix: str = "net.",
               partial: bool = False) -> int:
    """Load the ``prefix`` tensors of ``method``'s weights ``init`` (a bundled variant or a path) into
    ``net``; returns the steps they were trained for (the card's cumulative ``total_steps``, else
    ``steps``). ``partial``: ``net`` may have more tensors (new layers keep their initialisation).

    Raises:
        TinctError: in one line, when the weights do not fit ``net`` (another architecture).
    """
    tensors, card = load_weights(resolve(method, init))
    own = net.state_dict()
    taken = {k[len(prefix):]: v.float() for k, v in tensors.items() if k.startswith(prefix)}
    bad = [k for k, v in taken.items() if k not in own or own[k].shape != v.shape]
    missing = [] if partial else [k for k in own if k not in taken]
    if bad or missing:
        what = (f"{bad[0]}: {tuple(taken[bad[0]].shape)}" if bad else f"{missing[0]} is missing")
        raise TinctError(f"--init {init}: these {method} weights do not fit this network ({what}); "
                         "use the same architecture")
    net.load_state_dict(taken, strict=not partial)
    return int(card.extra.get("total_steps", card.extra.get("steps", 0)))


def bundled_path(method: str, name: str = DEFAULT_VARIANT) -> Path:
    """Path of a method's bundled weights file (may not exist); method ``nir-unet`` lives in package
    ``nir_unet``."""
    return Path(__file__).parent / "methods" / method.replace("-", "_") / "weights" / f"{name}.safetensors"


def looks_like_path(text: str) -> bool:
    """A weights argument that names a file rather than a bundled variant."""
    return "/" in text or "\\" in text or text.endswith(".safetensors") or text.startswith(".")


def resolve(method: str, name_or_path: str | Path | None = None) -> Path:
    """The weights file for ``method``: a bundled variant name (``None`` = ``"default"``) or a path.

    The one resolver of every trainable method (``--weights NAME|PATH``).

    Raises:
        TinctError: an unknown variant (the message lists the bundled ones) or a missing file.
    """
    from tinct.registry import method_info

    text = DEFAULT_VARIANT if name_or_path is None or str(name_or_path) == "" else str(name_or_path)
    if isinstance(name_or_path, Path) or looks_like_path(text):
        path = Path(text)
        if not path.with_suffix(".safetensors").is_file():
            raise TinctError(f"{method} weights not found: {path}")
        return path.with_suffix(".safetensors")
    info = method_info(method)
    variants = info.weights
    if text not in variants:
        listed = ", ".join(variants) or "none"
        raise TinctError(f"no {method} weights named '{text}'; bundled: {listed} (or give a .safetensors "
                         f"path from `tinct train {method}`)")
    path = bundled_path(method, text)
    if not path.is_file():
        raise TinctError(f"the bundled {method} weights '{text}' are missing from this installation "
                         f"({path}); train them with `tinct train {method}` and pass --weights PATH")
    return path
