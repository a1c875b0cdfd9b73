"""Per-word label probabilities -> the field strings a SROIE key holds.

A word belongs to field F when its most probable label is ``B-F`` or ``I-F``. Consecutive such
words (reading order) form a span, and a ``B-`` starts a new one.

Date and total: a span without a digit is joined to a span right after it ("RM" tagged
``B-total`` before "68.10" tagged ``B-total`` is "RM 68.10") or else dropped. The span with the
highest mean probability of F (``B-F`` + ``I-F``) wins, ties to the first one. When no word has a
date as its most probable label, the single word with a digit most probable for it is taken if
it gives the date at least ``FALLBACK_MIN_PROB``; a date that is not one whole date then
becomes the receipt's most probable whole date (``date_rank``). The total is then ranked against every other
amount in cents the receipt prints, by its probability and its printed label
(``total_rank``), which also fills a total no word was tagged with.

Company and address run over several OCR lines: a run cut by at most ``MAX_GAP_WORDS`` words that
still give the field ``GAP_MIN_PROB`` or more is joined (a model is least sure of a lone "," or "&"
inside an address), unless the part after the gap starts with ``B-F``; of the spans left, the one
with the most probability mass of F (sum over its words) wins, so a shop name that the model
starts as an address ("IKEA CHERAS" | "NO 2A JALAN ... KUALA LUMPUR") loses to the address after
it. The winning span is then widened to whole OCR lines where the words it leaves out of its
first or last line still give the field ``LINE_MIN_PROB`` on average: keys hold whole lines,
while a model often drops the "NO" of "NO 16A, JALAN ..." or a shop unit before the street.
Company and address never fall back to a guess. The words are turned into the key's form by
``postprocess.field_text``; fields with no span are omitted.

Rules were chosen on development folds of the *training* receipts (docs/sroie.md), never on the
validation split. On fold 1 (a model trained on 321 receipts, scored on the other 80): splitting
at ``B-`` with the mass rule +1 receipt-field (company +2, address -1) over the previous decoder
(company/address spans ignored ``B-``; highest mean won); rejected there: the mean instead of the
mass (-2), cutting a partial first OCR line off a span (-1). The rules added next were chosen on
fold 1 over five models, then confirmed out of fold on all 401 training receipts (five folds,
each scored by the two-model ensemble trained on the other four; 1604 keys):

- completing partial first/last lines: fold 1 +24 (15 receipt-fields gained, 2 lost); out of
  fold 1351 -> 1371 right (``LINE_MIN_PROB`` 0.05: 1373, 0.3: 1370, 0.5: 1362); lowered from 0.2
  to 0.05 on 2026-12-02, out of fold over all 501 receipts (five one-model folds): +2 companies,
  +3 addresses, none lost;
- joining a lone "RM" to its amount: fold 1 +3 (2 receipts, none lost); out of fold +2;
- a fallback at 0.01 instead of 0.1: fold 1 +8 right for 13 more predicted; out of fold neutral
  (F1 0.8555 against 0.8554: 5 more right for 11 more predicted);
- a fallback word needs a digit, as a span does: no change out of fold or on fold 1 (it was
  spotted in the validation error list: a lone "RM" given as a total), kept for consistency;
- a company/address that is no known spelling taken from the nearest range of whole lines that
  is one (``KNOWN_RANGE_REACH``; an address is never cut at its end, where a chain's keys keep
  the branch line): six development-fold models, held-out lines and scans, 20 company/address
  fields gained, none lost (cutting an address's end too: +8 -5); the labelling bound loses 8
  of 1002, all stores whose keys disagree among themselves (a brand line typed in one key, not
  in another);
- a date read in part, or not at all, completed from the receipt's whole dates (``date_rank``):
  six development-fold models, held-out lines and scans, 888 -> 919 of 960 dates;
- the total ranked over the receipt's amounts (``total_rank``; it replaces the total's
  fallback): six development-fold models, held-out lines and scans, 773 -> 817 of 960 totals;
- a company over several OCR lines cut to its legal name (``spans.legal_name_lines``: a brand or
  branch line above the line ending in "SDN BHD", "ENTERPRISE", ... and a unit line after it
  left out, unless the whole is a known spelling): out of fold over all 501 receipts (five
  folds, the CV models of docs/sroie.md, SROIE lines) +12 to +15 companies for 1 to 3 lost per
  recipe (`+experiment=sroie` 0.887 -> 0.894, `sroie_images` 0.898 -> 0.904; its scans 0.845 ->
  0.848); the labelling bound loses 3 of 501 companies (keys that keep the brand line);
- a company span holding a legal form ("SDN BHD", ``spans.prefer_legal_span``) preferred to a
  surer one holding none when it has at least half its mass, and widened to the start of its
  first OCR line (``spans.whole_first_line``, up to an owner label ending in a colon; a legal
  form read alone takes the line above: +1 company on the two-model fold 2, 0 elsewhere); an owner
  label glued to its colon ("OWN BY:", "DIMILIKI:") cut off the name (``normalize``): out of
  fold over all 501 receipts (five one-model folds, 2026-12-02) +1, +1 and +2 companies, none
  lost, the labelling bound unchanged (each alone off: -1, -1, -2; a share of 0.2 to 0.7 alike);
- an address span over several OCR lines leaves out the part of its first or last line that it
  takes only in part and that holds no digit (``spans.drop_stray_end_lines``: "AIRPORT" of the
  shop line "BHPETROL SUBANG AIRPORT", "PREPAY" of "PREPAY CHIT NUMBER"), and one that still
  starts inside a line takes in the line's start up to a label ending in a colon
  (``spans.whole_address_first_line``: "BLK" of "BLK 2, UNIT G1 ..."); a phone number with a
  comma after it, and a leading "HQ ADD:" label, are cut off (``normalize``): out of fold over
  all 501 receipts (five one-model folds, 2026-12-03) +2 addresses on SROIE's lines and +2 on
  this package's OCR of the scans, none lost (3 and 8 wrong ones changed to other wrong ones); the
  labelling bound unchanged (the ninth session's cut of any partial last line, digits or not,
  had measured +0 to +4 net and cut branch lines such as "1245-DESA SRI" the keys keep);
- not kept: the largest of the amounts the model is sure of (fold 1 +7; out of fold -9),
  rewriting a span to a known key that whole lines inside it spell (out of fold company +3,
  address +4 -10; training-key bound 0.941 -> 0.931).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from receipt_lightning.errors import InputError
from receipt_lightning.fields.date_rank import complete_date
from receipt_lightning.fields.lexicon import FieldLexicon
from receipt_lightning.fields.normalize import MULTI_LINE_FIELDS, NUMERIC_FIELDS, field_text, has_digit
from receipt_lightning.fields.spans import (
    bridge_gaps,
    complete_lines,
    drop_stray_end_lines,
    field_spans,
    join_digitless,
    legal_name_lines,
    nearby_line_ranges,
    prefer_legal_span,
    whole_address_first_line,
    whole_first_line,
)
from receipt_lightning.fields.total_rank import rerank_total
from receipt_lightning.receipt import Receipt

TOTAL_FIELD = "total"
DATE_FIELD = "date"
COMPANY_FIELD = "company"
ADDRESS_FIELD = "address"

# Date/total fallback (see the module docstring); a wrong guess costs precision, a missing field
# recall, so a guess pays when it is right about half the time or more (micro F1 ~0.86).
FALLBACK_MIN_PROB = 0.01
# A company/address that is no known spelling (training keys, after the lexicon's snap) becomes
# the nearest range of whole OCR lines that is one, moving its first and last line by at most
# this many lines: a store that recurs, read with a line too many or too few.
KNOWN_RANGE_REACH = 2


def _label_names(id2label: Mapping[int, str] | Sequence[str], n_labels: int) -> list[str]:
    """Label name per probability column; ``id2label`` keys may be ints or their strings (JSON)."""
    if isinstance(id2label, Mapping):
        by_index = {int(k): str(v) for k, v in id2label.items()}
        names = [by_index[i] for i in range(len(by_index)) if i in by_index]
        if len(names) != len(by_index):
            raise InputError(f"label map ids must be 0..{len(by_index) - 1}, got {sorted(by_index)}")
    else:
        names = [str(n) for n in id2label]
    if len(names) != n_labels:
        raise InputError(f"label map has {len(names)} labels but the probabilities have {n_labels} columns")
    return names


@dataclass(frozen=True)
class FieldSpan:
    """A decoded field: its value and the words ``[start, end)`` (reading order) it came from."""

    value: str  # the key's form of the words (after the lexicon, when one is given)
    start: int  # first word index
    end: int  # one past the last word index
    # Mean probability of the field (B- + I-) over the span's words, in [0, 1]: the decoder's
    # span score for a date or total; for company/address (ranked by the mass, which grows with
    # length) the same mass divided by the span's length.
    confidence: float


def decode_fields(
    receipt: Receipt,
    word_probs: np.ndarray,
    id2label: Mapping[int, str] | Sequence[str],
    lexicon: FieldLexicon | None = None,
    exclude: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Field -> string for one receipt from ``word_probs`` ``[n_words, n_labels]`` (rows sum to 1).

    With a ``lexicon`` (learned from training keys), company/address values are rewritten to the
    known spelling they match; ``exclude``: this receipt's own key, left out of the lexicon (a
    training receipt's labelling bound).
    """
    spans = decode_field_spans(receipt, word_probs, id2label, lexicon=lexicon, exclude=exclude)
    return {field: span.value for field, span in spans.items()}


def decode_field_spans(
    receipt: Receipt,
    word_probs: np.ndarray,
    id2label: Mapping[int, str] | Sequence[str],
    lexicon: FieldLexicon | None = None,
    exclude: Mapping[str, str] | None = None,
) -> dict[str, FieldSpan]:
    """As ``decode_fields``, with each field's words and confidence (``FieldSpan``)."""
    probs = np.asarray(word_probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != len(receipt.words):
        raise InputError(
            f"receipt {receipt.id!r}: probabilities of shape {probs.shape} for {len(receipt.words)} words",
            source=receipt.source or receipt.id,
        )
    names = _label_names(id2label, probs.shape[1])
    tags = [names[i] for i in probs.argmax(axis=1)] if len(names) else []
    fields = list(dict.fromkeys(n[2:] for n in names if n[:2] in ("B-", "I-")))
    out: dict[str, FieldSpan] = {}
    for field in fields:
        columns = [i for i, n in enumerate(names) if n in (f"B-{field}", f"I-{field}")]
        field_prob = probs[:, columns].sum(axis=1)
        best, best_key = None, None
        spans = field_spans(tags, field)
        if field in MULTI_LINE_FIELDS:
            spans = bridge_gaps(spans, field_prob, [t == f"B-{field}" for t in tags])
        elif field in NUMERIC_FIELDS:  # a lone "RM" or "DATE:" tagged B- is no date or total
            spans = join_digitless(spans, receipt.words)
        if field == DATE_FIELD and not spans:
            spans = _fallback(field, field_prob, receipt.words)
        for start, end in spans:
            if field in MULTI_LINE_FIELDS:  # probability mass: a long address beats a short name
                key = (round(float(field_prob[start:end].sum()), 9), end - start, -start)
            else:
                key = (round(float(field_prob[start:end].mean()), 9), 0, -start)
            if best_key is None or key > best_key:
                best, best_key = (start, end), key
        if field == TOTAL_FIELD:
            best = rerank_total(receipt, field_prob, best)
        elif field == DATE_FIELD:
            best = complete_date(receipt, field_prob, best)
        if best is None:
            continue
        if field == COMPANY_FIELD:
            best = prefer_legal_span(spans, best, field_prob, receipt.words)
        if field in MULTI_LINE_FIELDS:
            best = complete_lines(best, field_prob, receipt.line_ids)
        if field == ADDRESS_FIELD:
            best = drop_stray_end_lines(best, receipt.line_ids, receipt.words)
            best = whole_address_first_line(best, receipt.line_ids, receipt.words)
        if field == COMPANY_FIELD:
            best = whole_first_line(best, receipt.line_ids, receipt.words)
            best = _legal_name(receipt, best, lexicon, exclude)
        text = field_text(field, receipt.words[best[0] : best[1]])
        if lexicon is not None:
            text = lexicon.snap(field, text, exclude=exclude)
            if field in MULTI_LINE_FIELDS and not lexicon.knows(field, text, exclude):
                best, text = _known_line_range(receipt, field, best, text, lexicon, exclude)
        if text:
            confidence = float(np.clip(field_prob[best[0] : best[1]].mean(), 0.0, 1.0))
            out[field] = FieldSpan(text, best[0], best[1], round(confidence, 6))
    return out


def _legal_name(
    receipt: Receipt,
    span: tuple[int, int],
    lexicon: FieldLexicon | None,
    exclude: Mapping[str, str] | None,
) -> tuple[int, int]:
    """``span`` cut to its legal-name lines (``legal_name_lines``) unless its whole text is a
    known company spelling (a store whose key holds its brand line too)."""
    cut = legal_name_lines(span, receipt.line_ids, receipt.words)
    if cut == span or lexicon is None:
        return cut
    whole = lexicon.snap(
        COMPANY_FIELD, field_text(COMPANY_FIELD, receipt.words[span[0] : span[1]]), exclude=exclude
    )
    return span if lexicon.knows(COMPANY_FIELD, whole, exclude) else cut


def _known_line_range(
    receipt: Receipt,
    field: str,
    span: tuple[int, int],
    text: str,
    lexicon: FieldLexicon,
    exclude: Mapping[str, str] | None,
) -> tuple[tuple[int, int], str]:
    """The nearest range of whole OCR lines around ``span`` whose text (after the lexicon's
    snap) is a known spelling of ``field``, or ``span`` and ``text`` unchanged."""
    for start, end in nearby_line_ranges(span, receipt.line_ids, KNOWN_RANGE_REACH):
        if field == "address" and end < span[1]:
            continue
        snapped = lexicon.snap(field, field_text(field, receipt.words[start:end]), exclude=exclude)
        if lexicon.knows(field, snapped, exclude):
            return (start, end), snapped
    return span, text


def _fallback(field: str, field_prob: np.ndarray, words: Sequence[str]) -> list[tuple[int, int]]:
    """The single word most probable for ``field`` if it gives it ``FALLBACK_MIN_PROB``; for a
    date only words with a digit compete."""
    candidates = field_prob.copy()
    if field in NUMERIC_FIELDS:
        candidates[[not has_digit(w) for w in words]] = -1.0
    if not len(candidates) or candidates.max() < FALLBACK_MIN_PROB:
        return []
    top = int(candidates.argmax())
    return [(top, top + 1)]


def gold_word_probs(labels: Sequence[str], label_list: Sequence[str]) -> np.ndarray:
    """One-hot ``[n_words, n_labels]`` probabilities of gold labels (for the labelling's bound)."""
    index = {name: i for i, name in enumerate(label_list)}
    probs = np.zeros((len(labels), len(label_list)), dtype=np.float32)
    for row, tag in enumerate(labels):
        if tag not in index:
            raise InputError(f"label {tag!r} of word {row} is not in the label set {list(label_list)}")
        probs[row, index[tag]] = 1.0
    return probs
