"""Method packages, one per method; each registers itself with :mod:`tinct.registry` when imported.

Add a new method by creating ``tinct/methods/<name>/`` (or ``<name>.py``) whose import registers a
method called ``<name>``, and listing it in :data:`PACKAGES`. Nothing is imported here: the
registry imports a method's package when that method is first asked for (so
``tinct colorize --method reinhard`` never loads torch), and every package for listings.
"""

PACKAGES = ("caption", "cyclecnn", "cyclegan", "deepcolor", "fusion", "gray", "levin", "lineart", "nir_acgan",
            "nir_scgan", "nir_snet", "nir_unet", "reinhard", "spynco", "stereocopy", "tcvc", "video_blend",
            "welsh")
"""Every method package, by the name of the method it registers (``_`` in a package name is ``-`` in
the method's: ``nir_unet`` registers ``nir-unet``)."""
