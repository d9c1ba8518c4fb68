"""Evaluation protocols.

- :mod:`tinct.bench.quality`: colour images -> luma -> colorize -> PSNR, SSIM, CIEDE2000,
  colourfulness (``tinct bench quality``, ``tinct eval``).
- :mod:`tinct.bench.report`: how the scripts in ``benchmarks/`` write ``docs/results/``.
"""
