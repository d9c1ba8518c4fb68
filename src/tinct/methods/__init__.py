"""Method packages. Each import below registers one method with :mod:`tinct.registry`.

Add a new method by creating ``tinct/methods/<name>/`` and importing it here.
"""

from tinct.methods import gray  # noqa: F401
