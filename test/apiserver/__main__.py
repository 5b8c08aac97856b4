"""Entry point: `python3 -m apiserver --port P --tls-dir D --state FILE`."""
import sys

from .server import main

sys.exit(main(sys.argv[1:]))
