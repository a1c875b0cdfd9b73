"""Step-time overhead of DynamoDBLogger versus Lightning's CSVLogger, in one run.

A small MLP trains for ``--steps`` steps per repeat, calling ``self.log`` for ``train_loss``,
``train_acc`` and ``lr`` every step; the logger gets them every ``log_every_n_steps`` steps (1, the
worst case, and 50, Lightning's default, by default). Repeats alternate CSV, DynamoDB, DynamoDB, CSV, ...
so drift on a shared machine falls on both. Step time is the wall time between consecutive
``on_train_batch_start`` calls (it includes Lightning's logging); the first ``--warmup`` steps of
each repeat are left out. DynamoDB is moto's ThreadedMotoServer on 127.0.0.1, in a child process
by default (as a real table is in another machine), or in this process with ``--moto-in-process``.

    python -m benchmarks.logger_overhead [--steps 300 --repeats 6 --hidden 512 --log-every 1,50]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: idle OpenMP threads sleep
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_EC2_METADATA_DISABLED="true",  # dummy credentials: never ask 169.254.169.254
)

import argparse  # noqa: E402
import logging  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

MOTO_CHILD = (
    "import sys, time\n"
    "from moto.server import ThreadedMotoServer\n"
    "ThreadedMotoServer(ip_address='127.0.0.1', port=int(sys.argv[1]), verbose=False).start()\n"
    "while True: time.sleep(3600)\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(in_process: bool):
    """Start moto on 127.0.0.1; returns (endpoint, stop function)."""
    port = free_port()
    if in_process:
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        stop = server.stop
    else:
        child = subprocess.Popen(
            [sys.executable, "-c", MOTO_CHILD, str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def stop() -> None:
            child.terminate()
            child.wait(timeout=10)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return f"http://127.0.0.1:{port}", stop
        time.sleep(0.1)
    stop()
    raise SystemExit(f"moto did not start on port {port}")


def build(hidden: int):
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import Callback

    class MLP(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(128, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden),
                torch.nn.ReLU(), torch.nn.Linear(hidden, 10),
            )  # fmt: skip

        def training_step(self, batch, _):
            x, y = batch
            logits = self.net(x)
            loss = torch.nn.functional.cross_entropy(logits, y)
            self.log("train_loss", loss)
            self.log("train_acc", (logits.argmax(1) == y).float().mean())
            self.log("lr", self.trainer.optimizers[0].param_groups[0]["lr"])
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    class StepTimer(Callback):
        """Start time of every step; at train end, CPU seconds of the DynamoDB writer thread."""

        def __init__(self) -> None:
            self.starts: list[float] = []
            self.cpu: list[float] = []  # process CPU seconds (all threads) at each step start
            self.writer_cpu_s = 0.0

        def on_train_batch_start(self, *args) -> None:
            self.starts.append(time.perf_counter())
            self.cpu.append(time.process_time())

        def on_train_end(self, trainer, *args) -> None:
            # Before Lightning's finalize() joins the thread (benchmark-only peek at a private field).
            thread = getattr(getattr(trainer.logger, "_experiment", None), "_thread", None)
            if thread is not None and thread.is_alive():
                self.writer_cpu_s = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))

    return MLP, StepTimer


def timed_log_metrics(logger) -> list[float]:
    """Wrap the logger's log_metrics + save (what Lightning calls each step); returns the list
    that collects their wall time per call, seconds."""
    spent: list[float] = []
    for method in ("log_metrics", "save"):
        inner = getattr(logger, method)

        def wrapper(*a, _inner=inner, **k):
            t = time.perf_counter()
            _inner(*a, **k)
            spent.append(time.perf_counter() - t)

        setattr(logger, method, wrapper)
    return spent


def run_once(kind: str, idx: int, every: int, args, table: str, tmp: str) -> dict:
    import lightning as L
    import torch
    from lightning.pytorch.loggers import CSVLogger
    from torch.utils.data import DataLoader, TensorDataset

    from receipt_lightning.training.loggers.dynamodb.logger import DynamoDBLogger

    MLP, StepTimer = build(args.hidden)
    g = torch.Generator().manual_seed(idx)
    n = 64 * 50
    data = TensorDataset(torch.randn(n, 128, generator=g), torch.randint(0, 10, (n,), generator=g))
    run = f"bench-{every}-{idx}"
    logger = CSVLogger(tmp, name=run) if kind == "csv" else DynamoDBLogger(table, run)
    spent = timed_log_metrics(logger)
    timer = StepTimer()
    trainer = L.Trainer(
        max_steps=args.steps + 1,  # +1: the step after the last timed start closes its interval
        logger=logger,
        callbacks=[timer],
        log_every_n_steps=every,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    start = time.perf_counter()
    trainer.fit(MLP(), DataLoader(data, batch_size=64, shuffle=True))
    total = time.perf_counter() - start
    steps = [b - a for a, b in zip(timer.starts, timer.starts[1:], strict=False)][args.warmup :]
    n_steps = len(timer.starts)
    cpu = timer.cpu[args.warmup :]
    return {
        "cpu_ms": 1e3 * (cpu[-1] - cpu[0]) / (len(cpu) - 1),  # process CPU per step, all threads
        "steps": steps,
        "fit_s": total,
        "log_us": 1e6 * sum(spent) / n_steps,  # logger calls on the training thread, per step
        "log_med_us": 1e6 * statistics.median(spent) if spent else 0.0,  # one call, typical
        "writer_us": 1e6 * timer.writer_cpu_s / n_steps,  # writer thread CPU, per step
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--repeats", type=int, default=6, help="repeats per logger (alternating)")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--moto-in-process", action="store_true")
    p.add_argument(
        "--log-every",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[1, 50],
        help="Trainer log_every_n_steps values, comma-separated (1: worst case; 50: Lightning's default)",
    )
    args = p.parse_args()

    import lightning  # noqa: F401 - sets its loggers' levels on import; quiet them after
    import torch

    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "werkzeug"):
        logging.getLogger(name).setLevel(logging.ERROR)
    torch.set_num_threads(1)
    endpoint, stop = start_moto(args.moto_in_process)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    from receipt_lightning.aws.resources import create_table
    from receipt_lightning.aws.session import client
    from receipt_lightning.training.loggers.dynamodb.reader import MetricsReader

    table = "bench-metrics"
    create_table(client("dynamodb"), "metrics", table)
    results = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run_once("dynamodb", -1, 1, args, table, tmp)  # warm-up: imports, allocator, first HTTP
            for every in args.log_every:
                runs: dict[str, list[dict]] = {"csv": [], "dynamodb": []}
                for r in range(args.repeats):
                    order = ("csv", "dynamodb") if r % 2 == 0 else ("dynamodb", "csv")
                    for kind in order:
                        runs[kind].append(run_once(kind, r, every, args, table, tmp))
                reader = MetricsReader(table)
                stored = [len(reader.series(f"bench-{every}-{r}", "train_loss")) for r in range(args.repeats)]
                results.append((every, runs, stored))
    finally:
        stop()
    where = "in this process" if args.moto_in_process else "a child process"
    print(f"moto ThreadedMotoServer in {where} at {endpoint}; torch threads 1; MLP hidden {args.hidden}")
    print(f"{args.repeats} alternating repeats x {args.steps} steps per logger, first {args.warmup} left out")
    for every, runs, stored in results:
        report(args, every, runs, stored)


def report(args, every: int, runs: dict[str, list[dict]], stored: list[int]) -> None:
    med = lambda xs: statistics.median(xs)  # noqa: E731
    pooled = {k: med([t for r in v for t in r["steps"]]) * 1e3 for k, v in runs.items()}
    mean = {k: statistics.fmean([t for r in v for t in r["steps"]]) * 1e3 for k, v in runs.items()}
    reps = {k: [med(r["steps"]) * 1e3 for r in v] for k, v in runs.items()}
    paired = med([d / c - 1 for c, d in zip(reps["csv"], reps["dynamodb"], strict=True)]) * 100
    print(f"\n== log_every_n_steps={every} (3 metrics per logged step)")
    print(
        f"{'logger':9} {'median':>8} {'mean':>8} {'log+save':>9} {'log+save':>9} {'writer':>8}  per-repeat median step, ms"
    )
    print(f"{'':9} {'ms':>8} {'ms':>8} {'us/step':>9} {'us median':>9} {'us/step':>8}")
    for k in ("csv", "dynamodb"):
        log_us = med([r["log_us"] for r in runs[k]])
        writer = med([r["writer_us"] for r in runs[k]])
        log_med = med([r["log_med_us"] for r in runs[k]])
        line = " ".join(f"{m:.3f}" for m in reps[k])
        print(f"{k:9} {pooled[k]:8.3f} {mean[k]:8.3f} {log_us:9.1f} {log_med:9.1f} {writer:8.1f}  {line}")
    print(f"overhead, pooled median step:          {100 * (pooled['dynamodb'] / pooled['csv'] - 1):+.2f} %")
    print(f"overhead, median of paired repeats:    {paired:+.2f} %")
    print(f"overhead, mean step:                   {100 * (mean['dynamodb'] / mean['csv'] - 1):+.2f} %")
    cpu = {k: med([r["cpu_ms"] for r in v]) for k, v in runs.items()}
    print(
        f"process CPU per step (all threads, moto excluded): csv {cpu['csv']:.3f} ms, "
        f"dynamodb {cpu['dynamodb']:.3f} ms ({100 * (cpu['dynamodb'] / cpu['csv'] - 1):+.2f} %)"
    )
    print(
        f"train_loss points read back per DynamoDB run: {stored} (expected {(args.steps + 1) // every} each)"
    )


if __name__ == "__main__":
    main()
