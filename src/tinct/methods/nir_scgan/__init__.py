"""``nir-scgan``: Suárez et al.'s SC-GAN objective for near-infrared colorization (survey seed 002):
a generator fed the NIR band plus Gaussian noise, a conditional discriminator, and
``0.65 adversarial + 0.2 MSE + 0.15 (1 - SSIM)``. The generator is the same U-Net translator as
nir-unet (one noise channel; zeros at inference). See ``docs/methods/nir.md``."""

from __future__ import annotations

from tinct.methods.nir_unet import NirColorizer, NirOptions
from tinct.registry import register


@register(summary="near-infrared -> RGB: a U-Net with a noise input trained with SC-GAN's loss "
                  "(0.65 adversarial + 0.2 MSE + 0.15 (1 - SSIM))",
          paper="survey seed 002: Suárez, Sappa, Vintimilla & Hammoud, Near InfraRed imagery colorization",
          options=NirOptions,
          weights={"default": "EPFL RGB-NIR train split (136 pairs)"},
          train_config="tinct.methods.nir_scgan.training:SCGanTrainConfig",
          trainer="tinct.methods.nir_scgan.training:run")
class NirSCGanColorizer(NirColorizer):
    """NIR band -> RGB by the SC-GAN-trained generator."""

    name = "nir-scgan"
