"""``python -m anyseek.cli`` runs the ``anyseek`` command (what the installed ``anyseek`` script
calls)."""

import sys

from anyseek.cli import main

if __name__ == "__main__":  # not when a reader process (spawn) imports it as __mp_main__
    sys.exit(main())
