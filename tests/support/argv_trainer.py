"""The fake trainer (``tests.support.fake_trainer``) that first writes its argument list to
``<paths.root>/runs/<run_id>/argv.json``: tests see exactly what a worker asked the trainer for."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.support import fake_trainer

if __name__ == "__main__":
    args = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
    run_dir = Path(args["paths.root"]) / "runs" / args["run_id"]
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "argv.json").write_text(json.dumps(sys.argv[1:]))
    sys.exit(fake_trainer.main(sys.argv[1:]))
