"""``python -m tinct``: the same as the ``tinct`` command."""

import sys

from tinct.cli import main

sys.exit(main())
