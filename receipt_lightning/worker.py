"""``python -m receipt_lightning.worker [flags]`` is ``receipt-lightning start-worker [flags]``
(``-v``/``--verbose``, the CLI's global flag, is moved before the command name)."""

import sys

from receipt_lightning.cli import main

if __name__ == "__main__":
    verbose = [a for a in sys.argv[1:] if a in ("-v", "--verbose")]
    sys.exit(main([*verbose, "start-worker", *(a for a in sys.argv[1:] if a not in verbose)]))
