"""``tinct train nir-acgan``: the asymmetric CycleGAN (A = NIR, B = RGB).

``G_AB`` (NIR->RGB): the U-Net translator with ResNet blocks at its bottleneck; ``G_BA`` (RGB->NIR):
a lighter U-Net (RGB->NIR is the easier direction). ``D_B``: PatchGANs on a 3-level pyramid of
the RGB image (the multi-scale stand-in for the paper's FPN discriminator); ``D_A``: one PatchGAN
on NIR. Generator loss (least squares, as CycleGAN):
``GAN(G_AB, D_B) + lambda_ba * GAN(G_BA, D_A) + lambda_cycle * (|G_BA(G_AB(a)) - a| + |G_AB(G_BA(b)) - b|)``.
The RGB side of each batch is the batch's RGB crops rolled by one (other scenes), so no term
needs a registered partner; ``lambda_pair`` > 0 adds an L1 to the partner at 1/8 resolution
(a deviation); ``ema`` > 0 exports a moving average of G_AB's weights. ``conditional`` makes D_B
judge (NIR, RGB) pairs of the same scene, as the survey writes the term, L_GAN(G_AB, D_B, A, B):
misregistered real pairs, fakes displaced alike.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from tinct.methods.nir_unet.training import (
    DEFAULT_STEPS,
    NirTrainConfig,
    PairedTrainer,
    train_and_export,
)
from tinct.nn.ema import EMA
from tinct.nn.gan import PatchDiscriminator, PyramidDiscriminator, image_pyramid, lsgan_loss
from tinct.nn.unet import Translator, TranslatorConfig
from tinct.options import option
from tinct.precision import bf16_autocast
from tinct.train import RunConfig, optimizer_step


@dataclass
class ACGanTrainConfig(NirTrainConfig):
    """A nir-acgan run (``model``: G_AB, NIR->RGB; ``inverse``: G_BA, RGB->NIR)."""

    model: TranslatorConfig = field(default_factory=lambda: TranslatorConfig(widths=(24, 48, 96, 120),
                                                                             res_blocks=1))
    inverse: TranslatorConfig = field(default_factory=lambda: TranslatorConfig(
        in_channels=3, out_channels=1, widths=(16, 32, 64, 128)))
    lr: float = option(2e-4, "Adam learning rate (generators and discriminators)")
    warmup: int = option(100, "linear warm-up steps")
    lambda_ba: float = option(0.5, "λ1: weight of the RGB->NIR adversarial term")
    lambda_cycle: float = option(10.0, "λ2: weight of the two cycle (reconstruction) L1 terms")
    lambda_pair: float = option(10.0, "weight of an L1 to the registered partner at 1/pair_scale "
                                "resolution (a deviation; 0 = the paper's unpaired objective)")
    pair_scale: int = option(8, "the pair term compares 1/pair_scale resolution images (8: an 8 px "
                             "misregistration becomes 1 px)")
    pair_align: int = option(0, "search radius in full-resolution pixels: the pair term is the least L1 "
                             "over the integer shifts of the prediction within it (0: no search), so a "
                             "misregistered partner is compared where it matches")
    conditional: bool = option(False, "D_B judges (NIR, RGB) pairs, the survey's L_GAN(G_AB, D_B, A, B): "
                               "real = the scene's own, possibly misregistered RGB; fake = G_AB's output "
                               "displaced by a random warp of the same size (--misregister), so "
                               "registration is no cue")
    disc_width: int = option(32, "channels of the discriminators' first layers")
    disc_lr: float = option(0.0, "Adam learning rate of the discriminators (0: the same as lr); nir-scgan's "
                            "weak, slow critic uses 2e-5")
    disc_levels: int = option(3, "pyramid levels of the RGB discriminator")
    ema: float = option(0.0, "decay of a moving average of G_AB's weights, which is then what is exported "
                        "(tinct.nn.ema, as spynco; 0: export the last iterate)")


class ACGanTrainer(PairedTrainer):
    """Both generators under one optimizer, then both discriminators."""

    def __init__(self, cfg: ACGanTrainConfig, net: Translator, total_steps: int) -> None:
        super().__init__(cfg, net, total_steps)
        self.inverse = Translator(cfg.inverse)
        self.opt = torch.optim.Adam(itertools.chain(net.parameters(), self.inverse.parameters()), lr=cfg.lr,
                                    betas=(0.5, 0.999))
        self.disc_b = PyramidDiscriminator(cfg.disc_levels, 4 if cfg.conditional else 3, cfg.disc_width, 3)
        self.disc_a = PatchDiscriminator(1, cfg.disc_width, 2)
        self.disc_lr = cfg.disc_lr or cfg.lr
        self.opt_d = torch.optim.Adam(itertools.chain(self.disc_b.parameters(), self.disc_a.parameters()),
                                      lr=self.disc_lr, betas=(0.5, 0.999))
        self.modules.update(inverse=self.inverse, disc_b=self.disc_b, disc_a=self.disc_a)
        self.ema = EMA(net, cfg.ema) if cfg.ema > 0 else None
        if self.ema is not None:
            self.modules["net_ema"] = self.ema
        self.optimizers = {"opt": self.opt, "opt_d": self.opt_d}
        self._fakes: tuple[torch.Tensor, torch.Tensor] | None = None

    def judged_b(self, nir: torch.Tensor, rgb: torch.Tensor, fake: bool) -> torch.Tensor:
        """What D_B sees: the RGB image, or with ``conditional`` the (NIR, RGB) pair, a fake one
        displaced like the real pairs (:func:`displace`)."""
        if not self.cfg.conditional:
            return rgb
        return torch.cat([nir, displace(rgb, self.cfg.misregister) if fake else rgb], dim=1)

    def score_b(self, rgb: torch.Tensor, real: bool) -> torch.Tensor:
        levels = image_pyramid(rgb, self.cfg.disc_levels)
        return torch.stack([lsgan_loss(s, real) for s in self.disc_b(levels)]).mean()

    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        a, partner = batch["nir"], batch["rgb"]
        b = partner.roll(1, dims=0)  # other scenes: the objective never sees a registered pair
        with bf16_autocast(cfg.bf16):
            fake_b = self.net(a).float()
            fake_a = self.inverse(b).float()
            rec_a = self.inverse(fake_b).float()
            rec_b = self.net(fake_a).float()
            gan_ab = self.score_b(self.judged_b(a, fake_b, fake=True), True)
            gan_ba = lsgan_loss(self.disc_a(fake_a), True)
        cycle = F.l1_loss(rec_a, a) + F.l1_loss(rec_b, b)
        terms = {"gan_ab": gan_ab, "gan_ba": gan_ba, "cycle": cycle}
        total = gan_ab + cfg.lambda_ba * gan_ba + cfg.lambda_cycle * cycle
        if cfg.lambda_pair > 0:
            radius = -(-cfg.pair_align // cfg.pair_scale)  # at the pair term's resolution, rounded up
            terms["pair"] = shift_min_l1(F.avg_pool2d(fake_b, cfg.pair_scale),
                                         F.avg_pool2d(partner, cfg.pair_scale), radius)
            total = total + cfg.lambda_pair * terms["pair"]
        self._fakes = (fake_b.detach(), fake_a.detach())
        return {"total": total, **terms}

    @property
    def exported(self) -> Translator:
        """The G_AB that ships: the moving average with ``ema``, else the last iterate."""
        return self.ema.average if self.ema is not None else self.net

    def extra_updates(self, batch: dict[str, torch.Tensor], lr_factor: float) -> dict[str, float]:
        if self.ema is not None:  # after the generators' step
            self.ema.update(self.net)
        for group in self.opt_d.param_groups:
            group["lr"] = self.disc_lr * lr_factor
        fake_b, fake_a = self._fakes
        a, partner = batch["nir"], batch["rgb"]
        real_b = self.judged_b(a, partner, fake=False) if self.cfg.conditional else partner.roll(1, dims=0)
        with bf16_autocast(self.cfg.bf16):
            fake_judged = self.judged_b(a, fake_b, fake=True)
            d_b = 0.5 * (self.score_b(real_b, True) + self.score_b(fake_judged, False))
            d_a = 0.5 * (lsgan_loss(self.disc_a(a), True) + lsgan_loss(self.disc_a(fake_a), False))
        optimizer_step(self.opt_d, d_b + d_a)
        return {"d_b": float(d_b.detach()), "d_a": float(d_a.detach())}


def shift_min_l1(pred: torch.Tensor, target: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the batch of the least mean L1 between ``pred`` and ``target`` ``(B, C, H, W)`` over
    the integer shifts ``(dy, dx)`` of ``pred`` within ±``radius``: every shift is compared on the
    same central window (``radius`` pixels in from each border), so the scores are comparable.
    ``radius`` 0 is the plain L1. The gradient flows through each image's best shift."""
    if radius <= 0:
        return F.l1_loss(pred, target)
    h, w = pred.shape[-2:]
    if min(h, w) <= 2 * radius:
        raise ValueError(f"shift_min_l1: a {h}x{w} image has no window for shifts of ±{radius}")
    r = radius
    window = target[..., r:h - r, r:w - r]
    shifts = [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]
    errors = torch.stack([(pred[..., r - dy:h - r - dy, r - dx:w - r - dx] - window).abs().mean(dim=(1, 2, 3))
                          for dy, dx in shifts], dim=1)
    return errors.min(dim=1).values.mean()


def displace(x: torch.Tensor, shift: float) -> torch.Tensor:
    """``x`` ``(B, C, S, S)`` warped by a random affine map per image, drawn as the data's misregistration
    (:func:`tinct.data.nir.random_affine`: translation up to ``shift`` px, rotation and scale moving
    the corners by about ``shift / 2`` px), reflected at the border; ``shift`` 0 returns ``x``."""
    if shift <= 0:
        return x
    b, size = x.shape[0], x.shape[-1]
    u = torch.rand(b, 4, device=x.device) * 2 - 1
    angle, scale = u[:, 0] * shift / 2 / size, 1 + u[:, 1] * shift / 2 / size
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack([torch.stack([cos, -sin, u[:, 2] * 2 * shift / size], 1),
                         torch.stack([sin, cos, u[:, 3] * 2 * shift / size], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid.to(x.dtype), padding_mode="reflection", align_corners=False)


def run(cfg: ACGanTrainConfig, run: RunConfig) -> int:
    """``tinct train nir-acgan``: exports G_AB only."""
    net = Translator(cfg.model)
    trainer = ACGanTrainer(cfg, net, run.steps or DEFAULT_STEPS)
    train_and_export("nir-acgan", trainer, cfg, run, generator=trainer.exported,
                     model_config=cfg.model.to_dict())
    return 0
