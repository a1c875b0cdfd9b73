"""``python -m receipt_lightning.worker [flags]`` is ``receipt-lightning start-worker [flags]``
(``-v``/``--verbose``, the CLI's global flag, is moved before the command name)."""

import sys


def main(argv: list[str] | None = None) -> int:
    """``start-worker`` with these flags (default: this process's arguments)."""
    from receipt_lightning.cli import main as cli_main

    args = sys.argv[1:] if argv is None else list(argv)
    verbose = [a for a in args if a in ("-v", "--verbose")]
    return cli_main([*verbose, "start-worker", *(a for a in args if a not in verbose)])


if __name__ == "__main__":
    sys.exit(main())
