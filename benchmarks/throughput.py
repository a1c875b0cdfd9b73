"""Training throughput: this project's Lightning training vs a plain ``transformers.Trainer``.

    python -m benchmarks.throughput [--steps 24 --repeats 2 --threads 2 --variants ours,no-group]
    python -m benchmarks.throughput --f1 --epochs 3      # validation entity F1 after equal epochs

Same as ``receipt-lightning bench``; the options and the method are in docs/throughput.md. Each
run is a fresh subprocess with ``OMP_WAIT_POLICY=PASSIVE`` and ``OMP_NUM_THREADS`` set before
torch is imported; sides alternate over repeats and the report gives medians and ratios.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported anywhere

import argparse  # noqa: E402
import sys  # noqa: E402


def main() -> int:
    from benchmarks.trainer_compare.options import add_arguments
    from benchmarks.trainer_compare.runner import run
    from receipt_lightning.errors import ReceiptLightningError

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(p)
    try:
        return run(p.parse_args())
    except ReceiptLightningError as err:
        print(f"throughput: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
