"""``LayoutTokenCollator``: transformers' standard token-classification collator, plus the bbox
padding LayoutLM needs (the tokenizer's ``pad`` knows nothing of boxes)."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import DataCollatorForTokenClassification

from benchmarks.trainer_compare.shared import batch_record


@dataclass
class LayoutTokenCollator(DataCollatorForTokenClassification):
    """Pads ``input_ids``/``attention_mask`` (tokenizer) and ``labels`` (-100) exactly as
    ``DataCollatorForTokenClassification`` does, then pads ``bbox`` with [0, 0, 0, 0] to the same
    length. ``records`` keeps each batch's sizes, in the order batches were made."""

    records: list[dict[str, int]] = field(default_factory=list)

    def torch_call(self, features):
        import torch

        boxes = [f["bbox"] for f in features]
        batch = super().torch_call([{k: v for k, v in f.items() if k != "bbox"} for f in features])
        length = batch["input_ids"].size(1)
        bbox = torch.zeros((len(features), length, 4), dtype=torch.long)
        left = self.tokenizer.padding_side == "left"
        for i, b in enumerate(boxes):
            start = length - len(b) if left else 0  # boxes sit where the tokenizer put the tokens
            bbox[i, start : start + len(b)] = torch.tensor(b, dtype=torch.long)
        batch["bbox"] = bbox
        self.records.append(batch_record(batch))
        return batch
