"""A stand-in trainer for sweep tests (standard library only): its ``val/f1`` depends on the
learning rate and batch size, so trials differ and the best one is known in advance.

Takes the trainer's ``key=value`` arguments (``run_id`` and ``paths.root`` from the worker).
``<root>/fake_plan/<run_id>.json`` with ``{"exits": [3]}`` makes attempt 1 fail with exit 3
(fatal, not retried) after printing an error line, as a trial "made to fail".
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path


def expected_f1(learning_rate: float, batch_size: int) -> float:
    """Peaks at lr 3e-5, and smaller batches score a little higher."""
    return round(1.0 - abs(math.log10(learning_rate) - math.log10(3e-5)) / 4 - batch_size / 1000, 6)


def main(argv: list[str]) -> int:
    args = dict(a.split("=", 1) for a in argv if "=" in a)
    run_id, root = args["run_id"], Path(args["paths.root"])
    run_dir = root / "runs" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    plan_path = root / "fake_plan" / f"{run_id}.json"
    plan = json.loads(plan_path.read_text()) if plan_path.exists() else {}
    counter = run_dir / "attempts"
    attempt = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempt))
    exits = plan.get("exits", [])
    if attempt <= len(exits) and exits[attempt - 1]:
        print(f"ValueError: planned failure of {run_id}", flush=True)
        return int(exits[attempt - 1])
    time.sleep(float(plan.get("seconds", 0.2)))
    lr = float(args.get("model.learning_rate", "3e-3"))
    bs = int(args.get("data.batch_size", "16"))
    summary = {
        "run_id": run_id,
        "status": "COMPLETED",
        "global_step": 10,
        "metrics": {"val/f1": expected_f1(lr, bs), "train/loss": 0.1},
        "weights_sha256": "0" * 64,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
