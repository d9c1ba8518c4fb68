"""Evaluation protocols.

- :mod:`tinct.bench.quality`: colour images -> luma -> colorize -> PSNR, SSIM, CIEDE2000,
  colourfulness (``tinct bench quality``, ``tinct eval``).

The scripts in ``benchmarks/`` write ``docs/results/`` with :func:`tinct.testing.write_report`.
"""
