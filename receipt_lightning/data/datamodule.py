"""``ReceiptDataModule``: receipts -> cached token windows -> resumable, length-grouped batches."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial

import lightning as L
import torch
from typing_extensions import override

from receipt_lightning.data.encoding import Window, collate_windows, encode_receipt
from receipt_lightning.data.sampler import ResumableBatchSampler
from receipt_lightning.data.sources import load_split
from receipt_lightning.receipt import Receipt, bio_label_list, check_labels

log = logging.getLogger(__name__)


class ReceiptDataModule(L.LightningDataModule):
    """Loads a source's splits once, tokenises once (kept in memory for every epoch), and
    serves dynamically padded batches. The training loader is a torchdata
    ``StatefulDataLoader`` over a ``ResumableBatchSampler``, so a checkpoint holds the exact
    position in the epoch."""

    def __init__(
        self,
        tokenizer,
        source: str,
        fields: Sequence[str],
        batch_size: int = 8,
        eval_batch_size: int | None = None,
        max_length: int = 512,
        stride: int = 128,
        root: str | None = None,
        n_train: int | None = None,
        n_val: int | None = None,
        max_samples: int | None = None,
        val_fraction: float = 0.2,
        dev_fold: bool | int = False,
        seed: int = 0,
        group_by_length: bool = True,
        group_factor: int = 50,
        num_workers: int = 0,
        ocr: dict | None = None,
        extra_train_source: str | None = None,
        noisy_copies: int = 0,
    ) -> None:
        super().__init__()
        # Saved in checkpoints (plain values), so prediction windows receipts the same way.
        self.save_hyperparameters(ignore=["tokenizer"])
        self.tokenizer = tokenizer
        self.source = source
        self.fields = list(fields)
        self.label_list = bio_label_list(self.fields)
        self.label2id = {lab: i for i, lab in enumerate(self.label_list)}
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.max_length = max_length
        self.stride = stride
        self.root = root
        self.n_train, self.n_val, self.max_samples = n_train, n_val, max_samples
        self.val_fraction = val_fraction
        self.dev_fold = dev_fold
        self.seed = seed
        self.group_by_length = group_by_length
        self.group_factor = group_factor
        self.num_workers = num_workers
        # OcrConfig settings for the ``images`` source (None: its defaults); unused by the others.
        self.ocr = dict(ocr) if ocr is not None else None
        # A second source whose training receipts (same root, same split) are added to this
        # source's, e.g. SROIE's OCR lines beside the same receipts' OCR'd scans; validation
        # reads the main source only.
        self.extra_train_source = extra_train_source
        # Copies of every training receipt read again with OCR-like noise (data/augment.py),
        # added to the training set: 1 doubles the steps per epoch.
        if not isinstance(noisy_copies, int) or isinstance(noisy_copies, bool) or noisy_copies < 0:
            raise ValueError(f"data.noisy_copies must be an integer >= 0, got {noisy_copies!r}")
        self.noisy_copies = noisy_copies
        self.train_receipts: list[Receipt] = []
        self.val_receipts: list[Receipt] = []
        self.train_windows: list[Window] = []
        self.val_windows: list[Window] = []

    def _load(self, split: str, n: int | None) -> list[Receipt]:
        receipts = self._load_source(self.source, split, n)
        if split == "train" and self.extra_train_source:
            extra = self._load_source(self.extra_train_source, split, n)
            for r in extra:  # the same receipt read another way: an id of its own
                r.id = f"{r.id}@{self.extra_train_source}"
            receipts += extra
        if self.max_samples is not None and split == "train":
            receipts = receipts[: self.max_samples]
        if split == "train" and self.noisy_copies:
            from receipt_lightning.data.augment import noisy_copy

            receipts += [
                noisy_copy(r, k, self.seed) for k in range(1, self.noisy_copies + 1) for r in receipts
            ]
        for r in receipts:
            check_labels(r, self.label_list)
        return receipts

    def _load_source(self, source: str, split: str, n: int | None) -> list[Receipt]:
        return load_split(
            source,
            split,
            self.fields,
            root=self.root,
            n=n,
            seed=self.seed,
            val_fraction=self.val_fraction,
            dev_fold=self.dev_fold,
            ocr=self.ocr,
        )

    def encode(self, receipts: Sequence[Receipt]) -> list[Window]:
        windows = []
        for i, r in enumerate(receipts):
            windows += encode_receipt(r, i, self.tokenizer, self.label2id, self.max_length, self.stride)
        return windows

    @override
    def setup(self, stage: str | None = None) -> None:
        if self.train_windows:  # tokenised once per process, reused every epoch
            return
        self.train_receipts = self._load("train", self.n_train)
        self.val_receipts = self._load("val", self.n_val)
        if not self.train_receipts:
            raise ValueError(f"data source {self.source!r} gave no training receipts")
        self.train_windows = self.encode(self.train_receipts)
        self.val_windows = self.encode(self.val_receipts)
        long = sum(1 for i in {w.receipt_index for w in self.train_windows}) < len(self.train_windows)
        log.info(
            "data: %d train receipts (%d windows%s), %d val receipts (%d windows)",
            len(self.train_receipts), len(self.train_windows), ", some receipts split" if long else "",
            len(self.val_receipts), len(self.val_windows),
        )  # fmt: skip

    def steps_per_epoch(self, world_size: int = 1) -> int:
        """Optimizer steps per epoch on each of ``world_size`` data-parallel ranks."""
        total = (len(self.train_windows) + self.batch_size - 1) // self.batch_size
        return total if world_size == 1 else total // world_size

    def _collate(self):
        return partial(collate_windows, pad_token_id=self.tokenizer.pad_token_id)

    @override
    def train_dataloader(self):
        from torchdata.stateful_dataloader import StatefulDataLoader

        # A private generator: DataLoader.__iter__ draws a base seed from it, which would
        # otherwise consume the global torch RNG and shift dropout masks after a resume. The
        # sampler shares it so worker seeds repeat after a resume too.
        generator = torch.Generator().manual_seed(self.seed)
        sampler = ResumableBatchSampler(
            [len(w) for w in self.train_windows],
            self.batch_size,
            seed=self.seed,
            shuffle=True,
            group_factor=self.group_factor if self.group_by_length else 1,
            generator=generator,
            # Under DDP (trainer=ddp sets use_distributed_sampler: false) each rank takes its share.
            num_replicas=self.trainer.world_size if self.trainer is not None else 1,
            rank=self.trainer.global_rank if self.trainer is not None else 0,
        )
        return StatefulDataLoader(
            self.train_windows,
            batch_sampler=sampler,
            collate_fn=self._collate(),
            num_workers=self.num_workers,
            generator=generator,
            persistent_workers=self.num_workers > 0,
        )

    @override
    def val_dataloader(self):
        from torch.utils.data import DataLoader

        order = sorted(range(len(self.val_windows)), key=lambda i: len(self.val_windows[i]))
        batches = [order[i : i + self.eval_batch_size] for i in range(0, len(order), self.eval_batch_size)]
        return DataLoader(
            self.val_windows,
            batch_sampler=batches,
            collate_fn=self._collate(),
            num_workers=0,
        )
