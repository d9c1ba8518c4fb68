"""``nir-acgan``: Sun et al.'s asymmetric CycleGAN for near-infrared to RGB (survey seed 002): a
stronger NIR->RGB generator (U-Net + ResNet blocks) than its RGB->NIR partner (U-Net), a multi-scale
discriminator on RGB and a plain one on NIR, trained with GAN(A->B) + λ1 GAN(B->A) + λ2 cycle, which
does not need registered pairs. Only the NIR->RGB generator ships. See ``docs/methods/nir.md``."""

from __future__ import annotations

from tinct.methods.nir_unet import NirColorizer, NirOptions
from tinct.registry import register


@register(summary="near-infrared -> RGB: the asymmetric CycleGAN (strong NIR->RGB, light RGB->NIR "
                  "generator; cycle losses tolerate misregistered pairs)",
          paper="survey seed 002: Sun, Jung, Fu & Han, NIR to RGB domain translation using asymmetric "
                "cycle generative adversarial networks",
          options=NirOptions,
          weights={"default": "EPFL RGB-NIR train split (136 scenes misregistered ±8 px; cycle, adversarial "
                              "and a shift-tolerant pair term)"},
          train_config="tinct.methods.nir_acgan.training:ACGanTrainConfig",
          trainer="tinct.methods.nir_acgan.training:run")
class NirACGanColorizer(NirColorizer):
    """NIR band -> RGB by the asymmetric CycleGAN's NIR->RGB generator."""

    name = "nir-acgan"
