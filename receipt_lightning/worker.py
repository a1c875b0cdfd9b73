"""``python -m receipt_lightning.worker [flags]``: the same as ``receipt-lightning start-worker``."""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    from receipt_lightning.commands import start_worker
    from receipt_lightning.errors import EXIT_FAILED, ReceiptLightningError

    parser = argparse.ArgumentParser(
        prog="python -m receipt_lightning.worker", description=start_worker.__doc__
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    start_worker.add_arguments(parser)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("botocore", "urllib3"):  # per-request INFO lines would drown the worker's own
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return start_worker.run(args)
    except ReceiptLightningError as err:
        print(f"worker: error: {err}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
