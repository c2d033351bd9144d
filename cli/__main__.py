"""``python -m cli`` runs the ``anyseek`` command (what the installed ``anyseek`` script calls)."""

import sys

from cli import main

sys.exit(main())
