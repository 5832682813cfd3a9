"""``python -m keytokens.cli``: the same as the ``keytokens`` command."""

import sys

from keytokens.cli import main

sys.exit(main())
