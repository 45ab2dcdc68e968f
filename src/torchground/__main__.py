"""``python -m torchground``: the same command line as the ``torchground`` script."""

import sys

from torchground.cli import main

if __name__ == "__main__":
    sys.exit(main())
