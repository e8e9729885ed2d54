"""Entry point of ``python -m stackd_emulator``."""

import sys

from .server import main

sys.exit(main())
