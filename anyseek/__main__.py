"""``python -m anyseek`` runs the CLI."""

import sys

from anyseek.cli import main

sys.exit(main())
