"""`python -m qa`."""

import sys

from qa.surfaces.cli import main

sys.exit(main())
