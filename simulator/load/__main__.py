"""``python -m simulator.load``: the same as ``madoguchi-sim --signaling-only``."""

import sys

from simulator.cli import main

sys.exit(main(["--signaling-only", *sys.argv[1:]]))
