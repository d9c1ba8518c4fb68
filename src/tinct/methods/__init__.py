"""Method packages. Each import below registers one method with :mod:`tinct.registry`.

Add a new method by creating ``tinct/methods/<name>/`` and importing it here.
"""

import tinct.methods.cyclecnn  # noqa: F401
import tinct.methods.cyclegan  # noqa: F401
import tinct.methods.deepcolor  # noqa: F401
import tinct.methods.levin  # noqa: F401
import tinct.methods.reinhard  # noqa: F401
import tinct.methods.spynco  # noqa: F401
import tinct.methods.stereocopy  # noqa: F401
import tinct.methods.welsh  # noqa: F401
from tinct.methods import gray  # noqa: F401
