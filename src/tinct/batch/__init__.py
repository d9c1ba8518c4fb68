"""Colouring many files: a resumable, crash-safe batch with a manifest, run locally or on Ray.

``tinct colorize SRC... --out-dir OUT`` is this package. Modules: :mod:`~tinct.batch.plan`
(inputs found, output names that never clash), :mod:`~tinct.batch.manifest`
(``OUT/tinct-manifest.jsonl``, temporary files, atomic writes), :mod:`~tinct.batch.work` (one
image: bytes in, PNG bytes out; the same on every backend), :mod:`~tinct.batch.run` (the driver:
skip what is done, commit results), :mod:`~tinct.batch.local` (this process, I/O threads
overlapping compute), :mod:`~tinct.batch.ray_backend` (actors on a Ray cluster).
Nothing here imports torch until a method is loaded.
"""
