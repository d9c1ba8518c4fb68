"""The caption-conditioned colorization network (Manjunatha et al. 2018 on our fusion trunk).

Image network: fusion's U-Net trunk on the luma (:class:`tinct.nn.unet.UNet`, widths 32-64-128-256),
its global branch fused at the bottleneck, and two heads at half resolution (ab-bin logits,
Zhang et al. 2016, and an ab regression); the same parameter names as
:class:`tinct.methods.fusion.model.FusionNet`, so fusion's weights can start it.

Caption: :class:`CaptionEncoder` (embeddings + a bidirectional GRU, trained from scratch) gives
``c`` ``(N, text_dim)``. Conditioning (:mod:`tinct.nn.conditioning`), one layer after **every
block** of the trunk, as the paper conditions every block of its FCNN:

- after each of the 4 encoder levels' output (stride-2 conv + conv, 32/64/128/256 channels at
  1/2, 1/4, 1/8, 1/16 of the input), before it becomes a skip and the next level's input;
- after each of the 3 decoder blocks (128/64/32 channels at 1/8, 1/4, 1/2), before the next.

7 layers in all (the bottleneck's is applied before the global fusion). ``film``: per-channel
scale and shift; ``concat``: the vector broadcast, concatenated and mixed by a 1x1 conv; ``attend``
(ours, not the paper's): a per-pixel scale and shift from attention over the GRU's per-word states
(:class:`tinct.nn.conditioning.WordAttention`), so a word can act where its region is; ``none``: no
caption encoder and no layers (the FCNN baseline: fusion's network).

``forward(luma, tokens, lengths)``: luma ``(N, 1, H, W)`` in [0, 1] with H, W multiples of
``net.multiple`` (16); tokens ``(N, T)`` int64 ids (``<pad>`` = 0 after each caption's end),
lengths ``(N,)`` >= 1 -> ``(logits (N, Q, H/2, W/2), ab (N, 2, H/2, W/2))``, ab in Lab units.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from tinct.data.captions import PAD, VOCABULARY
from tinct.nn.conditioning import ConditionedStack, WordStates
from tinct.nn.unet import FusionLayer, GlobalBranch, UNet, UNetConfig

AB_SCALE = 110.0


@dataclass(frozen=True)
class CaptionModelConfig:
    """Architecture: the trunk (as fusion's), the caption encoder and the conditioning kind."""

    conditioning: Literal["film", "concat", "attend", "none"] = "film"
    widths: tuple[int, ...] = (32, 64, 128, 256)
    global_dim: int = 256
    fusion: bool = True
    n_bins: int = 313
    vocab_size: int = len(VOCABULARY)
    embed_dim: int = 64
    text_dim: int = 128

    def to_dict(self) -> dict:
        return asdict(self)


class CaptionEncoder(nn.Module):
    """Token ids ``(N, T)`` + lengths ``(N,)`` -> caption vector ``(N, text_dim)``: embeddings, a
    bidirectional GRU (``text_dim / 2`` per direction), its two final states concatenated, then a
    linear layer + ReLU."""

    def __init__(self, vocab_size: int, embed_dim: int = 64, text_dim: int = 128) -> None:
        super().__init__()
        if text_dim % 2:
            raise ValueError(f"text_dim must be even (two GRU directions), got {text_dim}")
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.gru = nn.GRU(embed_dim, text_dim // 2, batch_first=True, bidirectional=True)
        self.out = nn.Sequential(nn.Linear(text_dim, text_dim), nn.ReLU(inplace=True))

    def _run(self, tokens: torch.Tensor, lengths: torch.Tensor) -> tuple[object, torch.Tensor]:
        packed = pack_padded_sequence(self.embed(tokens), lengths.cpu().clamp(min=1), batch_first=True,
                                      enforce_sorted=False)
        return self.gru(packed)  # (packed outputs, final states (2, N, text_dim / 2))

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        _, last = self._run(tokens, lengths)
        return self.out(torch.cat([last[0], last[1]], dim=1))

    def words(self, tokens: torch.Tensor, lengths: torch.Tensor) -> WordStates:
        """Per-word states ``(N, T, text_dim)`` (both directions' outputs at each word, through the
        same output layer) and the mask of real words ``(N, T)``."""
        outputs, _ = self._run(tokens, lengths)
        states, _ = pad_packed_sequence(outputs, batch_first=True, total_length=tokens.shape[1])
        steps = torch.arange(tokens.shape[1])[None, :]
        return WordStates(self.out(states), steps < lengths.clamp(min=1)[:, None])


class CaptionNet(nn.Module):
    """Trunk + global branch + caption encoder + conditioning layers + two heads (see the module)."""

    def __init__(self, config: CaptionModelConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or CaptionModelConfig()
        w = tuple(cfg.widths)
        self.trunk = UNet(UNetConfig(in_channels=1, widths=w))
        self.global_branch = GlobalBranch(w[-1], cfg.global_dim) if cfg.fusion else None
        self.fuse = FusionLayer(w[-1], cfg.global_dim) if cfg.fusion else None
        self.cls_head = nn.Conv2d(w[0], cfg.n_bins, 1)
        self.reg_head = nn.Conv2d(w[0], 2, 1)
        conditioned = cfg.conditioning != "none"
        self.text = CaptionEncoder(cfg.vocab_size, cfg.embed_dim, cfg.text_dim) if conditioned else None
        self.condition = ConditionedStack(cfg.conditioning, w, tuple(reversed(w[:-1])), cfg.text_dim)

    @property
    def multiple(self) -> int:
        return self.trunk.multiple

    def encode_caption(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor | WordStates | None:
        """The caption vector ``(N, text_dim)`` (float32; its words, :class:`WordStates`, for
        ``attend``), or None without conditioning."""
        if self.text is None:
            return None
        if self.config.conditioning == "attend":
            return self.text.words(tokens, lengths)
        return self.text(tokens, lengths)

    def forward(self, luma: torch.Tensor, tokens: torch.Tensor, lengths: torch.Tensor,
                cond: torch.Tensor | WordStates | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``cond``: a precomputed :meth:`encode_caption` (then ``tokens`` are not read)."""
        if cond is None:
            cond = self.encode_caption(tokens, lengths)
        hook = self.condition.bind(cond)
        feats = self.trunk.encode((luma - 0.5) * 2.0, hook)
        if self.fuse is not None and self.global_branch is not None:
            feats[-1] = self.fuse(feats[-1], self.global_branch(feats[-1]))
        h = self.trunk.decode(feats, hook)
        return self.cls_head(h), torch.tanh(self.reg_head(h)) * AB_SCALE


def batch_tokens(ids: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id lists -> ``(tokens (N, T) int64 padded with <pad>, lengths (N,) int64)``."""
    length = max(1, max((len(t) for t in ids), default=1))
    tokens = torch.full((len(ids), length), PAD, dtype=torch.int64)
    for i, t in enumerate(ids):
        tokens[i, :len(t)] = torch.tensor(t, dtype=torch.int64)
    return tokens, torch.tensor([max(1, len(t)) for t in ids], dtype=torch.int64)


def count_parameters(module: nn.Module | None) -> int:
    """Number of parameters of ``module`` (0 for None)."""
    return 0 if module is None else sum(p.numel() for p in module.parameters())
