"""Word attention (``conditioning=attend``): per-pixel FiLM from attention over a caption's words."""

from __future__ import annotations

import pytest
import torch

from tinct.data.captions import VOCABULARY, tokenize
from tinct.methods.caption.model import CaptionEncoder, batch_tokens
from tinct.nn.conditioning import FiLM, WordAttention, WordStates


def _words(n: int = 2, t: int = 3, d: int = 4) -> WordStates:
    mask = torch.ones(n, t, dtype=torch.bool)
    mask[1, -1] = False
    return WordStates(torch.randn(n, t, d), mask)


def test_starts_as_the_identity_and_weights_sum_to_one() -> None:
    torch.manual_seed(0)
    layer, x, words = WordAttention(6, 4), torch.rand(2, 6, 5, 7), _words()
    assert torch.equal(layer(x, words), x)
    weights = layer.attention(x, words)
    assert weights.shape == (2, 35, 4)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 35))
    assert torch.all(weights[1, :, 2] == 0)  # the padded word gets no attention


def test_padded_words_do_not_change_the_output() -> None:
    torch.manual_seed(0)
    layer, x, words = WordAttention(6, 4), torch.rand(2, 6, 5, 7), _words()
    torch.nn.init.normal_(layer.value.weight)
    other = words.states.clone()
    other[1, -1] = 100.0
    assert torch.allclose(layer(x, words), layer(x, WordStates(other, words.mask)))
    other[0, -1] = 100.0  # a real word of the first caption does
    assert not torch.allclose(layer(x, words)[0], layer(x, WordStates(other, words.mask))[0])


def _task(n: int = 16) -> tuple[torch.Tensor, WordStates, torch.Tensor]:
    """Channel 0 marks region A (+1) or B (-1); the word (+e1 "red" / +e2 "blue") must shift channel 1
    by +1 / -1 inside A only. A per-channel FiLM cannot: its shift is the same at every pixel."""
    gen = torch.Generator().manual_seed(1)
    region = torch.where(torch.rand(n, 1, 8, 8, generator=gen) < 0.5, 1.0, -1.0)
    x = torch.cat([region, torch.rand(n, 1, 8, 8, generator=gen)], dim=1)
    sign = torch.where(torch.arange(n) % 2 == 0, 1.0, -1.0)
    states = torch.stack([torch.tensor([1.0, 0.0]) if s > 0 else torch.tensor([0.0, 1.0]) for s in sign])
    target = x.clone()
    target[:, 1:] += sign[:, None, None, None] * (region > 0)
    return x, WordStates(states[:, None, :], torch.ones(n, 1, dtype=torch.bool)), target


@pytest.mark.parametrize(("kind", "reaches"), [("attend", True), ("film", False)])
def test_only_attention_can_bind_a_word_to_its_region(kind: str, reaches: bool) -> None:
    torch.manual_seed(0)
    x, words, target = _task()
    layer = WordAttention(2, 2, key_dim=8) if kind == "attend" else FiLM(2, 2)
    cond = words if kind == "attend" else words.states[:, 0]
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        loss = torch.mean((layer(x, cond) - target) ** 2)
        loss.backward()
        opt.step()
    assert (loss.item() < 0.01) == reaches, loss.item()


def test_the_encoder_gives_one_state_per_word_and_a_mask_of_the_real_ones() -> None:
    torch.manual_seed(0)
    enc = CaptionEncoder(len(VOCABULARY), embed_dim=8, text_dim=16)
    tokens, lengths = batch_tokens([tokenize("blue sky, green grass")[0], tokenize("red sky")[0]])
    words = enc.words(tokens, lengths)
    assert words.states.shape == (2, tokens.shape[1], 16)
    assert words.mask.tolist() == [[i < int(n) for i in range(tokens.shape[1])] for n in lengths]
    assert torch.isfinite(words.states).all()
