"""Training entry point: ``python -m receipt_lightning.train +experiment=NAME [key=value ...]``.

The whole object graph is built here, in one place, Trainer last. Exit codes (a contract with
the worker, see ``receipt_lightning.errors``): 0 done, 75 interrupted and resumable (Spot
notice or SIGTERM, after a durable checkpoint), 3 fatal (bad config or input; retrying cannot
help), 1 any other failure.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from receipt_lightning.configs import PRIMARY_CONFIG, conf_dir, normalize_overrides
from receipt_lightning.errors import (
    EXIT_FAILED,
    EXIT_FATAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    FatalError,
    JobInterrupted,
)
from receipt_lightning.runs import (
    SUMMARY_FILE,
    RunStatus,
    checkpoint_name,
    new_run_id,
    plain_metrics,
    read_summary,
    weights_sha256,
    write_json_atomic,
)
from receipt_lightning.training.fencing import EXIT_FENCED, FencedOut, check_fence

log = logging.getLogger("receipt_lightning.train")


@dataclass
class Graph:
    datamodule: Any
    model: Any
    trainer: Any
    checkpoint_io: Any
    spot: Any
    throughput: Any
    resume_from: str | None
    attempt: Any  # training.checkpointing.progress.Attempt: names this attempt's progress records
    budget: Any  # training.callbacks.time_budget.TimeBudget

    @property
    def validates(self) -> bool:
        """False for a final fit on every receipt (``data.val_fraction=0`` without a development
        fold): no validation pass, no best checkpoint; the last checkpoint is the model."""
        return bool(self.datamodule.val_receipts)


def build_graph(cfg: DictConfig) -> Graph:
    """Data, model, callbacks, loggers and the Trainer (last) for ``cfg``."""
    import lightning as L
    import torch
    from hydra.utils import instantiate

    from receipt_lightning.model.backbone import load_tokenizer
    from receipt_lightning.training.callbacks.throughput import ThroughputCallback
    from receipt_lightning.training.callbacks.time_budget import TimeBudget
    from receipt_lightning.training.checkpointing.builder import build_checkpointing, find_resume_checkpoint
    from receipt_lightning.training.checkpointing.progress import Attempt
    from receipt_lightning.training.precision import resolve_auto_trainer, warn_if_bf16_is_emulated
    from receipt_lightning.training.spot.callback import build_spot_callback

    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    tokenizer = load_tokenizer(cfg.model.tokenizer)
    datamodule = instantiate(cfg.data, tokenizer=tokenizer, _convert_="all")
    datamodule.setup("fit")  # loads and tokenises once; also sizes the schedule below
    # The time budget counts from here: loading, OCR (a cold cache) and tokenising are excluded.
    budget = TimeBudget(cfg.get("time_budget_minutes"))
    model = instantiate(cfg.model, label_list=datamodule.label_list, _convert_="all")
    validates = bool(datamodule.val_receipts)
    ckpt_cfg = OmegaConf.to_container(cfg.checkpoint, resolve=True)
    trainer_extra: dict[str, Any] = {}
    if not validates:
        log.info("no validation receipts: a final fit on every training receipt, never validated")
        ckpt_cfg["monitor"] = None  # nothing to rank checkpoints by: the last one is the model
        trainer_extra = {"limit_val_batches": 0, "num_sanity_val_steps": 0}

    attempt = Attempt.start()  # once per attempt (a multirun job is one too)
    checkpoint_io, ckpt_callbacks = build_checkpointing(ckpt_cfg, cfg.paths.checkpoint_dir, attempt=attempt)
    spot = build_spot_callback(OmegaConf.to_container(cfg.spot, resolve=True))
    throughput = ThroughputCallback()
    # A logger node may build to None (logger.dynamodb without a metrics table): config decides.
    built = [instantiate(c) for c in (cfg.logger or {}).values() if c is not None]
    loggers = [lg for lg in built if lg is not None]
    callbacks = [instantiate(c) for c in (cfg.callbacks or {}).values() if c is not None]
    if not loggers:  # a learning-rate monitor has nothing to write to
        callbacks = [c for c in callbacks if not isinstance(c, L.pytorch.callbacks.LearningRateMonitor)]
    callbacks += [*ckpt_callbacks, spot, throughput, budget]

    # trainer=auto: accelerator and precision chosen for this machine (logged); explicit ones stay.
    trainer_cfg = OmegaConf.create(
        {**resolve_auto_trainer(OmegaConf.to_container(cfg.trainer, resolve=True)), **trainer_extra}
    )
    warn_if_bf16_is_emulated(str(trainer_cfg.get("accelerator")), str(trainer_cfg.get("precision")))
    trainer = instantiate(
        trainer_cfg,
        callbacks=callbacks,
        logger=loggers or False,
        plugins=[checkpoint_io],
        default_root_dir=cfg.paths.run_dir,
    )
    if cfg.trainer.get("max_steps", -1) == -1 and not cfg.trainer.get("fast_dev_run"):
        # Stop on a step count so a run resumed from the last batch of an epoch stops where an
        # uninterrupted run would; per rank under DDP (known once the Trainer has its devices).
        steps = datamodule.steps_per_epoch(trainer.world_size)
        trainer.fit_loop.epoch_loop.max_steps = int(cfg.trainer.max_epochs) * steps
    resume_from = (
        None if cfg.trainer.get("fast_dev_run") else find_resume_checkpoint(cfg.paths.checkpoint_dir)
    )
    pretrained = cfg.model.get("pretrained")
    if pretrained and resume_from is None:  # a resumed run's checkpoint already holds the weights
        from receipt_lightning.warm_start import warm_start

        warm_start(model.model, pretrained, datamodule.label_list)
    return Graph(datamodule, model, trainer, checkpoint_io, spot, throughput, resume_from, attempt, budget)


def save_final_checkpoint(cfg: DictConfig, graph: Graph) -> str | None:
    """A checkpoint of the finished run (unless the cadence just wrote this step), so predict
    gets the final weights and starting the run again resumes into "already done"."""
    trainer = graph.trainer
    if cfg.trainer.get("fast_dev_run"):
        return None
    path = Path(cfg.paths.checkpoint_dir) / checkpoint_name(trainer.global_step)
    if not path.exists():
        trainer.save_checkpoint(str(path))
    drain = getattr(graph.checkpoint_io, "drain", None)
    if drain is not None:
        drain()  # durable before summary.json says COMPLETED
    return str(path)


def summarize(
    cfg: DictConfig, graph: Graph, status: RunStatus, started: float, **extra: Any
) -> dict[str, Any]:
    from receipt_lightning.training.checkpointing.builder import find_resume_checkpoint, resume_info

    trainer = graph.trainer
    best = next((c for c in trainer.checkpoint_callbacks if getattr(c, "monitor", None)), None)
    best_score = getattr(best, "best_model_score", None)
    last = find_resume_checkpoint(cfg.paths.checkpoint_dir)
    metrics = plain_metrics(trainer.callback_metrics)
    previous = read_summary(cfg.paths.run_dir)
    if not metrics and previous:  # resumed into an already finished run: nothing was re-measured
        metrics = previous.get("metrics", {})
    summary = {
        "run_id": cfg.run_id,
        "status": status,
        "global_step": int(trainer.global_step),
        "epoch": int(trainer.current_epoch),
        "last_checkpoint": str(Path(last).resolve()) if last else None,
        "best_checkpoint": str(Path(best.best_model_path).resolve()) if best and best.best_model_path else None,
        "best_score": float(best_score) if best_score is not None else None,
        "monitor": best.monitor if best is not None else None,
        "metrics": metrics,
        "weights_sha256": weights_sha256(graph.model.state_dict()),
        "wall_time_s": round(time.time() - started, 3),
        "validated": graph.validates,
        "resumed_from": graph.resume_from,
        **graph.throughput.summary(),
        **(graph.budget.summary() if graph.budget.minutes else {}),
        **extra,
    }
    if graph.resume_from:
        summary["resume"] = resume_info(cfg.paths.run_dir, graph.resume_from, graph.attempt)
    if getattr(graph.spot, "interruption", None):
        summary["interruption"] = graph.spot.interruption
    check_fence("summary.json")
    write_json_atomic(Path(cfg.paths.run_dir) / SUMMARY_FILE, summary)
    return summary


def run(cfg: DictConfig) -> int:
    """Fit one run; returns the process exit code. A trainer fenced out of its job (another
    worker took the lease over) stops without writing anything more."""
    try:
        return _run(cfg)
    except FencedOut as err:
        log.error("%s", err)
        return EXIT_FENCED


def _run(cfg: DictConfig) -> int:
    started = time.time()
    run_dir = Path(cfg.paths.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    log.info("run %s in %s", cfg.run_id, run_dir)
    try:
        graph = build_graph(cfg)
    except FatalError as err:
        log.error("%s", err)
        return EXIT_FATAL
    if graph.resume_from:
        log.info("resuming from %s", graph.resume_from)
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    try:
        graph.trainer.fit(graph.model, datamodule=graph.datamodule, ckpt_path=graph.resume_from)
        save_final_checkpoint(cfg, graph)
        extra = {}
        # A run the time budget cut short never reached a recipe's last-epoch validation.
        wants_validation = cfg.validate_at_end or graph.budget.cut_short
        if wants_validation and graph.validates and not cfg.trainer.get("fast_dev_run"):
            results = graph.trainer.validate(graph.model, datamodule=graph.datamodule, verbose=False)
            extra["final_validation"] = plain_metrics(results[0]) if results else {}
    except FencedOut:
        raise  # no summary: the run directory belongs to the attempt that took over
    except JobInterrupted as stop:
        log.warning(
            "interrupted (%s): checkpoint durable, exiting %d to be resumed", stop.reason, EXIT_INTERRUPTED
        )
        summarize(cfg, graph, RunStatus.INTERRUPTED, started)
        return EXIT_INTERRUPTED
    except SIGTERMException:
        # Lightning's own SIGTERM path (spot.handle_sigterm=false): no checkpoint was taken at
        # the signal, but the job is still resumable from its last one, never "completed".
        log.warning("SIGTERM: exiting %d to be resumed from the last checkpoint", EXIT_INTERRUPTED)
        summarize(cfg, graph, RunStatus.INTERRUPTED, started, reason="SIGTERM (Lightning)")
        return EXIT_INTERRUPTED
    except FatalError as err:
        log.error("%s", err)
        summarize(cfg, graph, RunStatus.FAILED, started, error=str(err))
        return EXIT_FATAL
    except Exception as err:
        # Any other failure: the traceback goes to the log (the worker records its tail) and
        # summary.json says FAILED, so the run's record is never left at RUNNING.
        log.exception("training failed")
        summarize(cfg, graph, RunStatus.FAILED, started, error=f"{type(err).__name__}: {err}")
        return EXIT_FAILED
    summary = summarize(cfg, graph, RunStatus.COMPLETED, started, **extra)
    log.info(
        "done: step %d, val/f1 %s, weights %s",
        summary["global_step"], summary["metrics"].get("val/f1"), summary["weights_sha256"][:12],
    )  # fmt: skip
    return EXIT_OK


def with_run_id(argv: list[str]) -> list[str]:
    """Give the run a ``run_id`` unless the command line does: a new one for a single run,
    ``<sweep base>-<job number>`` for each job of a local multirun."""
    if any(a.startswith(("run_id=", "+run_id=")) for a in argv):
        return argv
    multirun = any(a in ("-m", "--multirun") for a in argv)
    if any(a in ("--help", "-h", "--hydra-help", "--info", "-i", "--cfg", "-c") for a in argv):
        return argv
    base = new_run_id()
    if multirun:
        return [*argv, f"run_id={base}-${{hydra:job.num}}"]
    print(f"run_id={base}", flush=True)
    return [*argv, f"run_id={base}"]


class ExitCode:
    """The process exit code over the runs of one invocation: a multirun with the basic
    launcher does not let one failed job hide another's failure (the first failure wins)."""

    def __init__(self) -> None:
        self.code = EXIT_OK

    def record(self, code: int) -> None:
        self.code = code if self.code == EXIT_OK else self.code


def main() -> None:
    exit_code = ExitCode()

    @hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name=PRIMARY_CONFIG)
    def hydra_entry(cfg: DictConfig) -> float | None:
        """Returns the run's objective (``objective``, default val/f1) for result-driven
        sweepers such as Optuna (None records a failed trial and the study goes on)."""
        code = run(cfg)
        exit_code.record(code)
        from receipt_lightning.sweeps.objective import objective

        return objective(cfg) if code == EXIT_OK else None

    sys.argv = [sys.argv[0], *with_run_id(normalize_overrides(sys.argv[1:]))]
    hydra_entry()
    sys.exit(exit_code.code)


if __name__ == "__main__":
    main()
