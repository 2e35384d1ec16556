"""``python -m neuronsim``: the command line."""

import sys

from neuronsim.cli import main

if __name__ == "__main__":
    sys.exit(main())
