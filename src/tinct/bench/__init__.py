"""Evaluation protocols.

- :mod:`tinct.bench.quality`: colour images -> luma -> colorize -> PSNR, SSIM, CIEDE2000,
  colourfulness (``tinct bench quality``, ``tinct eval``).
- :mod:`tinct.bench.pairs`: an input band + a separate truth RGB file -> colorize -> PSNR, SSIM,
  AE, CIEDE2000, plainly and after the best shift (``tinct bench pairs``).
- :mod:`tinct.bench.nir_floors`: the NIR floors (NIR as gray, lookup table, flat mean colour).
- :mod:`tinct.bench.video`: colour frames -> luma -> ``colorize_frames`` -> warping error (flicker,
  Lai et al. 2018, on Lab a*b*) for the output and the true video, CIEDE2000, PSNR, colourfulness
  (``tinct bench video``); scene-cut recovery.

The scripts in ``benchmarks/`` write ``docs/results/`` with :func:`tinct.testing.write_report`.
"""
