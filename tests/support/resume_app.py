"""A tiny Lightning training run for the exact-resume tests, run as a fresh subprocess.

    python tests/integration/resume_app.py RUN_DIR [--die-after-step N | --raise-after-step N |
        --spot-save-at N] [--async-save] [--slow-save SECONDS] [--epochs E] [--every N]

It trains a small MLP with dropout (torch RNG), a dataset that adds torch noise in
``__getitem__``, numpy and python draws in ``training_step``, AdamW and a LambdaLR warm-up, on a
``StatefulDataLoader`` with a ``ResumableBatchSampler``, checkpointing through
``build_checkpointing``; it resumes from ``find_resume_checkpoint`` like ``train.py`` does. At the
end it writes ``RUN_DIR/final.json``: the weights' sha256 and the trace of (step, batch) it ran.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import lightning.pytorch as pl  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from torchdata.stateful_dataloader import StatefulDataLoader  # noqa: E402

from receipt_lightning.data.sampler import ResumableBatchSampler  # noqa: E402
from receipt_lightning.training.checkpointing.builder import (  # noqa: E402
    build_checkpointing,
    find_resume_checkpoint,
    resume_info,
)
from receipt_lightning.training.checkpointing.progress import Attempt  # noqa: E402

N_SAMPLES, BATCH, SEED = 44, 4, 1234  # 11 batches per epoch, the last one full


class NoisyDataset(torch.utils.data.Dataset):
    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 8, generator=g)
        self.y = torch.randint(0, 3, (n,), generator=g)
        self.gets = 0  # items fetched in this process: resume must not replay the data seen

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        self.gets += 1
        if torch.utils.data.get_worker_info() is None:
            noise = torch.randn(8)  # global RNG: restored by RNGStateCallback
        else:  # a worker's RNG stream is not checkpointed: key worker randomness by the item
            noise = torch.randn(8, generator=torch.Generator().manual_seed(i))
        return self.x[i] + 0.01 * noise, self.y[i], i


class DataModule(pl.LightningDataModule):
    def __init__(self, workers: int = 0) -> None:
        super().__init__()
        self.workers = workers
        self.train_set = NoisyDataset(N_SAMPLES, SEED)
        self.val_set = NoisyDataset(12, SEED + 1)

    def train_dataloader(self):
        # generator=: DataLoader.__iter__ draws its base seed from it, not from the global RNG;
        # the sampler checkpoints its state so worker seeds repeat after a resume.
        generator = torch.Generator().manual_seed(SEED)
        sampler = ResumableBatchSampler(
            [1] * N_SAMPLES, BATCH, seed=SEED, group_factor=2, generator=generator
        )
        return StatefulDataLoader(
            self.train_set,
            batch_sampler=sampler,
            generator=generator,
            num_workers=self.workers,
            multiprocessing_context="fork" if self.workers else None,
        )

    def val_dataloader(self):
        # No generator= on purpose (like the project's datamodule): its iter() would draw from
        # the global RNG, also outside validation hooks on a resume (see RNGStateCallback).
        return torch.utils.data.DataLoader(self.val_set, batch_size=6)


class TinyModule(pl.LightningModule):
    def __init__(self, cfg, estimated_steps: bool = False) -> None:
        super().__init__()
        self.save_hyperparameters(
            {"cfg": cfg, "np_value": np.float64(0.5), "estimated_steps": estimated_steps}
        )
        self.net = torch.nn.Sequential(
            torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Dropout(0.3), torch.nn.Linear(32, 3)
        )
        self.trace: list[list[int]] = []

    def training_step(self, batch, batch_idx):
        x, y, idx = batch
        # numpy and python RNG must be restored too
        scale = 1.0 + 0.1 * float(np.random.rand()) + 0.1 * random.random()
        loss = torch.nn.functional.cross_entropy(self.net(x), y) * scale
        self.trace.append([int(self.global_step), int(self.current_epoch), *[int(i) for i in idx]])
        return loss

    def validation_step(self, batch, batch_idx):
        x, y, _ = batch
        acc = (self.net(x).argmax(-1) == y).float().mean()
        self.log("val/f1", acc, prog_bar=False)

    def configure_optimizers(self):
        if self.hparams.get("estimated_steps"):
            # builds the train loader before the loops are restored (see ResumeFixes)
            assert self.trainer.estimated_stepping_batches > 0
        opt = torch.optim.AdamW(self.parameters(), lr=0.05)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 5))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class Interrupter(pl.Callback):
    def __init__(self, args, io) -> None:
        self.args, self.io = args, io

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.args.die_after_step:
            os._exit(3)  # a hard kill: no teardown, an async save in flight is lost
        if trainer.global_step == self.args.raise_after_step:
            raise RuntimeError(f"interrupted after step {trainer.global_step}")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.args.spot_save_at:  # what the Spot callback does
            trainer.save_checkpoint(
                os.path.join(self.args.run_dir, "checkpoints", f"step-{trainer.global_step:08d}.ckpt")
            )
            self.io.drain()
            os._exit(3)


def weights_sha256(module: torch.nn.Module) -> str:
    sha = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        sha.update(name.encode())
        sha.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return sha.hexdigest()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("run_dir")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--every", type=int, default=3)
    p.add_argument("--keep", type=int, default=2)
    p.add_argument("--async-save", action="store_true")
    p.add_argument("--slow-save", type=float, default=0.0)
    p.add_argument("--die-after-step", type=int, default=-1)
    p.add_argument("--raise-after-step", type=int, default=-1)
    p.add_argument("--spot-save-at", type=int, default=-1)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--estimated-steps", action="store_true")
    p.add_argument("--best-on-epoch-end", choices=["null", "true", "false"], default="null")
    args = p.parse_args()

    pl.seed_everything(SEED, workers=True, verbose=False)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    ckpt_dir = os.path.join(args.run_dir, "checkpoints")
    cfg = {
        "every_n_train_steps": args.every,
        "every_n_minutes": None,
        "keep_last_k": args.keep,
        "async_save": args.async_save,
        "monitor": "val/f1",
        "mode": "max",
        "progress_every_n_steps": 1,
        "save_on_train_epoch_end": {"null": None, "true": True, "false": False}[args.best_on_epoch_end],
    }
    attempt = Attempt.start()  # this process's attempt, as train.build_graph makes one
    io, callbacks = build_checkpointing(cfg, ckpt_dir, attempt=attempt)
    if args.slow_save:
        write = io._write
        io._write = lambda state, path: (time.sleep(args.slow_save), write(state, path))[1]
    ckpt_path = find_resume_checkpoint(ckpt_dir)
    dm = DataModule(args.workers)
    model = TinyModule(OmegaConf.create({"lr": 0.05, "nested": {"a": [1, 2]}}), args.estimated_steps)
    batches = (N_SAMPLES + BATCH - 1) // BATCH
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=args.epochs,
        max_steps=args.epochs * batches,
        plugins=[io],
        callbacks=[*callbacks, Interrupter(args, io)],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
        num_sanity_val_steps=1,
    )
    info = resume_info(args.run_dir, ckpt_path, attempt)
    trainer.fit(model, dm, ckpt_path=ckpt_path)
    result = {
        "resume_info": info,
        "weights_sha256": weights_sha256(model),
        "global_step": trainer.global_step,
        "epoch": trainer.current_epoch,
        "resumed_from": os.path.basename(ckpt_path) if ckpt_path else None,
        "items_fetched": dm.train_set.gets,
        "trace": model.trace,
    }
    with open(os.path.join(args.run_dir, "final.json"), "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
