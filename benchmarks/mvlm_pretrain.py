"""Masked visual-language-model pretraining (LayoutLM's MVLM) on a fold's training text, before
fine-tuning: does layout-aware pretraining on receipt text help the start from MiniLM-L6?

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks.mvlm_pretrain --fold K --out mvlm$K \
        --steps 300 --lr 1e-4 data.root=../shared/datasets/sroie
    python -m receipt_lightning.train +experiment=sroie model.ensemble_size=1 \
        data.root=../shared/datasets/sroie data.val_fraction=0 data.dev_fold=K \
        model.pretrained=mvlm$K run_id=cvm$K      # then predict --split cv --fold K, as usual

The text is that of the fold's training receipts only (with ``--experiment sroie`` their lines
and noisy copies, as that recipe trains them; with ``--experiment sroie_images`` their lines and
this package's OCR of their scans), so the held-out fold stays unseen. As in LayoutLM: 15 % of the word pieces are
masked (80 % ``[MASK]``, 10 % a random word piece, 10 % kept) while every 2-D box stays, and the
encoder predicts them through a dense + GELU + LayerNorm head whose decoder is tied to the word
embeddings. The softmax runs over the word pieces the training text holds (~4,100 of 30,522):
on 2 cores the full-vocabulary softmax cost 2.6-5 s per step, more than the encoder. fp32, as
on a CPU without native bf16. Writes a ``save_pretrained`` directory that ``model.pretrained``
warm-starts from (the classifier head in it is untrained). Measured in docs/sroie.md ("A
stronger starting point"). ``OMP_WAIT_POLICY=PASSIVE`` is set before torch is imported.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

MASK_SHARE = 0.15  # of the non-special word pieces, as BERT and LayoutLM
MASK_TO_MASK, MASK_TO_RANDOM = 0.8, 0.1  # of the chosen pieces; the other 0.1 are kept as they are
WARMUP_SHARE = 0.1  # of the steps, then linear decay to 0


def mask_tokens(input_ids, attention_mask, mask_id: int, special_ids, vocab):
    """``(masked ids, positions, targets)`` for one batch: ``MASK_SHARE`` of the real pieces not
    in ``special_ids`` chosen, of those ``MASK_TO_MASK`` set to ``mask_id``, ``MASK_TO_RANDOM`` to
    a random piece of ``vocab``, the rest kept. Draws from torch's global generator (seeded once
    by ``pretrain``), in the order the measured runs drew."""
    import torch

    ids = input_ids.clone()
    candidates = (attention_mask == 1) & ~torch.isin(ids, special_ids)
    chosen = candidates & (torch.rand(ids.shape) < MASK_SHARE)
    targets = ids[chosen]
    draw = torch.rand(ids.shape)
    ids[chosen & (draw < MASK_TO_MASK)] = mask_id
    rand = chosen & (draw >= MASK_TO_MASK) & (draw < MASK_TO_MASK + MASK_TO_RANDOM)
    ids[rand] = vocab[torch.randint(0, len(vocab), (int(rand.sum()),))]
    return ids, chosen, targets


def pretrain(
    overrides: list[str], out: Path, steps: int, lr: float, experiment: str = "sroie", seed: int = 0
) -> dict:
    """MVLM-pretrain the recipe's model on its datamodule's training windows; returns figures."""
    import torch
    from hydra.utils import instantiate

    from receipt_lightning.configs import compose
    from receipt_lightning.model.backbone import build_model, load_tokenizer

    torch.manual_seed(seed)
    cfg = compose([f"+experiment={experiment}", "model.ensemble_size=1", *overrides], hydra_config=False)
    tokenizer = load_tokenizer(cfg.model.tokenizer)
    datamodule = instantiate(cfg.data, tokenizer=tokenizer, _convert_="all")
    datamodule.setup("fit")
    model = build_model(datamodule.label_list, **dict(cfg.model.backbone))
    embeddings = model.layoutlm.embeddings.word_embeddings
    width = embeddings.weight.shape[1]
    special = sorted(set(tokenizer.all_special_ids))
    seen = sorted({i for w in datamodule.train_windows for i in w.input_ids} - set(special))
    vocab = torch.tensor(seen)
    to_subset = torch.full((embeddings.weight.shape[0],), -1, dtype=torch.long)
    to_subset[vocab] = torch.arange(len(seen))
    special_ids = torch.tensor(special)
    head = torch.nn.Sequential(
        torch.nn.Linear(width, width), torch.nn.GELU(), torch.nn.LayerNorm(width, eps=1e-12)
    )
    bias = torch.nn.Parameter(torch.zeros(len(seen)))
    params = [p for p in model.layoutlm.parameters() if p.requires_grad] + [*head.parameters(), bias]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    warmup = max(1, int(steps * WARMUP_SHARE))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    model.train()
    step, start, losses = 0, time.perf_counter(), []
    while step < steps:
        for batch in datamodule.train_dataloader():
            ids, chosen, targets = mask_tokens(
                batch["input_ids"], batch["attention_mask"], tokenizer.mask_token_id, special_ids, vocab
            )
            hidden = model.layoutlm(input_ids=ids, bbox=batch["bbox"], attention_mask=batch["attention_mask"])
            logits = head(hidden.last_hidden_state[chosen]) @ embeddings.weight[vocab].T + bias
            loss = torch.nn.functional.cross_entropy(logits, to_subset[targets])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            losses.append(float(loss))
            if step % 20 == 0:
                print(
                    f"step {step} masked-LM loss {losses[-1]:.3f} (mean of 20: {sum(losses[-20:]) / 20:.3f})",
                    flush=True,
                )
            if step >= steps:
                break
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return {
        "out": str(out),
        "train_receipts": len(datamodule.train_receipts),
        "train_windows": len(datamodule.train_windows),
        "vocab_subset": len(seen),
        "steps": steps,
        "loss_first_20": round(sum(losses[:20]) / max(1, len(losses[:20])), 3),
        "loss_last_20": round(sum(losses[-20:]) / max(1, len(losses[-20:])), 3),
        "seconds": round(time.perf_counter() - start, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--fold", type=int, required=True, help="the held-out fold (data.dev_fold); its text is not read"
    )
    p.add_argument("--out", type=Path, required=True, help="directory for the pretrained weights")
    p.add_argument(
        "--steps", type=int, default=300, help="optimizer steps (batches of data.batch_size windows)"
    )
    p.add_argument("--lr", type=float, default=1e-4, help="AdamW peak learning rate")
    p.add_argument(
        "--experiment",
        default="sroie",
        help="whose training text: sroie (lines + noisy copies) or sroie_images (lines + OCR'd scans)",
    )
    p.add_argument("overrides", nargs="*", help="Hydra overrides for the experiment (data.root=...)")
    args = p.parse_args()
    overrides = [*args.overrides, "data.val_fraction=0", f"data.dev_fold={args.fold}"]
    print(json.dumps(pretrain(overrides, args.out, args.steps, args.lr, args.experiment)))


if __name__ == "__main__":
    main()
