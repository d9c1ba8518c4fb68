"""Caption words (issue 18): colour naming, regions, caption synthesis, the vocabulary and the held-out
split."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.caption_scene import scene as _scene

from tinct.data.captions import (
    NONE,
    VOCABULARY,
    caption_plans,
    captions_for,
    is_held_out,
    render,
    synthesize,
    tokenize,
)
from tinct.data.color_names import (
    COLOR_WORDS,
    Region,
    image_regions,
    name_color,
    name_colors,
    reachable,
)


@pytest.mark.parametrize(("lab", "word"), [
    ((93, -1, -3), "white"), ((50, 0, 2), "gray"), ((15, 1, 1), "black"), ((60, 5, 5), "gray"),
    ((45, -10, 24), "green"), ((35, -20, 25), "green"), ((72, -2, -30), "blue"), ((45, 55, 35), "red"),
    ((66, 30, 60), "orange"), ((85, -5, 70), "yellow"), ((72, 32, 4), "pink"), ((38, 12, 25), "brown"),
    ((40, 35, -35), "purple")])
def test_colour_naming_of_hand_picked_lab_values(lab: tuple, word: str) -> None:
    assert name_color(lab) == word


def test_naming_is_vectorised_and_reachability_follows_lightness() -> None:
    assert name_colors(np.array([[93.0, -1, -3], [45, -10, 24]])) == ["white", "green"]
    assert reachable("blue", 60) and not reachable("black", 90) and not reachable("white", 30)
    with pytest.raises(ValueError, match="Lab"):
        name_colors(np.zeros((2, 2)))


def test_regions_are_named_by_their_true_colour_largest_first() -> None:
    from tinct.color import rgb_to_lab

    rgb, labels = _scene()
    labels[0, :5] = 7  # 5 pixels of "foreground": under 5 %, not a region
    regions = image_regions(rgb_to_lab(rgb), labels)
    assert [(r.label, r.word) for r in regions] == [(3, "green"), (0, "blue"), (5, "red")]
    assert regions[1].fraction == pytest.approx((24 * 80 - 5) / (64 * 80))


REGIONS = [Region(0, 0.4, (75, -2, -30), "blue"), Region(1, 0.3, (40, -20, 20), "green"),
           Region(2, 0.2, (50, 0, 0), "gray")]


def test_synthesized_captions_vary_and_stay_in_the_vocabulary() -> None:
    rng = np.random.default_rng(0)
    plans = [synthesize(REGIONS, rng) for _ in range(300)]
    assert len({p.template for _, p in plans}) == 8 and len({t for t, _ in plans}) > 150
    for text, plan in plans:
        ids, unknown = tokenize(text)
        assert not unknown and NONE not in ids
        words = text.split()
        for k in plan.regions:  # each named region's true word is in the sentence
            assert {r.word for r in REGIONS if r.label == k} <= set(words)
        if plan.template == "sky":
            assert text.endswith("under a blue sky")
    firsts = {tuple(p.regions)[0] for _, p in plans if len(p.regions) == 3}
    assert len(firsts) == 3  # every order occurs


def test_captions_are_deterministic_per_image_and_a_swap_changes_one_word() -> None:
    assert captions_for("a.jpg", REGIONS) == captions_for("a.jpg", REGIONS)
    assert captions_for("a.jpg", REGIONS) != captions_for("b.jpg", REGIONS)
    text, plan = caption_plans("c.jpg", REGIONS, 1)[0]
    target = plan.regions[0]
    swapped = render(plan, {**{r.label: r.word for r in REGIONS}, target: "purple"})
    diff = [(a, b) for a, b in zip(text.split(), swapped.split(), strict=True) if a != b]
    assert len(diff) == 1 and diff[0][1] == "purple"


def test_vocabulary_tokenizer_and_held_out_split() -> None:
    assert VOCABULARY[:3] == ("<pad>", "<unk>", "<none>") and set(COLOR_WORDS) <= set(VOCABULARY)
    ids, unknown = tokenize("A red bus near a GREY bus, and zebras!")
    assert unknown == ["bus", "zebras"] and VOCABULARY[ids[1]] == "red" and VOCABULARY[ids[5]] == "gray"
    assert tokenize("  ") == ([NONE], [])
    names = [f"img_{i:05d}.jpg" for i in range(2000)]
    held = [n for n in names if is_held_out(n)]
    assert 150 < len(held) < 250 and held == [n for n in names if is_held_out(n)]
