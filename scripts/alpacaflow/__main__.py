"""``python -m alpacaflow``: the guard vLLM needs, since it spawns worker processes."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
