"""``python -m privformers.cli``: the ``privformers`` command."""

import sys

from privformers.cli import main

sys.exit(main())
