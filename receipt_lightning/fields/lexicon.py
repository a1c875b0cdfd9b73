"""How the key typists wrote company names and addresses, learned from training keys.

The same merchants come back across the collection, and a key's punctuation and spacing follow
the typist rather than the print ("NO 290, JALAN AIR PANAS, SETAPAK, 53200, KUALA LUMPUR." on a
receipt whose OCR line has no final dot). A decoded company or address whose letters and digits
equal (or nearly equal, OCR noise) those of a training key is rewritten to that key's most
common spelling. It is learned from training keys only; the validation and test receipts are
never in it. For the labelling's bound on a training receipt, that receipt's own key is left
out (``exclude``), so the bound never reads its own answer.

Measured on the training split (leave-one-out, decoding the weak labels): +8 addresses, -2
company names. Rejected there: always taking the majority spelling (worse than keeping a decoded
value that is itself a known spelling), a looser fuzzy budget (0.04-0.06 per character: company
names lose), and correcting single words to a frequent key word one edit away (+4..6, -20..57:
the keys keep many rare spellings, including OCR errors the typists copied).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from receipt_lightning.errors import InputError
from receipt_lightning.fields.normalize import LEGAL_SUFFIX
from receipt_lightning.fields.text_match import collapse_ws, edit_distance, relaxed

LEXICON_FIELDS: tuple[str, ...] = ("company", "address")
# A decoded value is snapped to a known one this close in edits per letter/digit (OCR noise).
# Chosen on the training split with leave-one-out (``label-bound --split train``).
FUZZY_EDITS_PER_CHAR = 0.02
# The same for text from this package's OCR of a scan (``receipt_lightning.ocr``), which misreads
# more letters than SROIE's hand-corrected lines ("PERBANG ALAF", "HARUWARE"); chosen on a
# development fold of the training receipts' scans (docs/ocr.md, ``benchmarks.lexicon_budget``).
OCR_FUZZY_EDITS_PER_CHAR = 0.12
# A decoded value that is itself a known spelling is kept: the typists disagree among themselves
# (leave-one-out on the training split: keeping it +6 addresses over always taking the majority).
KEEP_KNOWN = True
# Letters/digits a value needs before a fuzzy snap is tried: short names differ by one letter.
MIN_FUZZY_CHARS = 12
# Edits a fuzzy snap may always cost once a value has ``MIN_FUZZY_CHARS``: the per-character
# budget rounds to 0 below 50 letters, so a company name misread by one letter ("GERPANG ALAF
# RESTAURANTS SDN BHD", "POPULAR BOOL CO. (M) SDN BHD") was never snapped. Out of fold over all
# 501 receipts: companies 456 -> 458 (4 gained, 2 lost to keys that copied a misprint), addresses
# 393 -> 394; labelling bound companies 479 -> 481 (docs/sroie.md, "Lexicon: one edit").
MIN_FUZZY_EDITS = 1
# OCR'd text only: a company of no known store whose last two words are no legal-form ending of
# the training keys ("SDN BHD", "SDN. BHD.", "(M) BHD") takes the ending this few edits per word
# away that at least ``MIN_ENDING_KEYS`` keys use ("SON BHD", "SIN BHED", "SDN, BHD." misread by
# OCR); a legal-form word glued to the name is split off ("IMPRESSIONSDN BHD"). Out of fold on
# the OCR'd scans +4 companies, 1 lost (a key that copied the print's "SBN BHD"); on SROIE's
# hand-corrected lines, where a misspelt ending is the print's, it would only lose (docs/ocr.md).
ENDING_EDITS_PER_WORD = 1
MIN_ENDING_KEYS = 3


def _letter_counts(form: str) -> np.ndarray:
    """Occurrences of each character code (0-127, and one bin for anything else) in ``form``."""
    codes = np.frombuffer(form.encode("utf-32-le"), dtype=np.uint32)
    return np.bincount(np.minimum(codes, 128), minlength=129).astype(np.int32)


class FieldLexicon:
    """Known spellings per field: ``relaxed form -> Counter(exact key strings)``."""

    def __init__(
        self,
        entries: Mapping[str, Mapping[str, Mapping[str, int]]] | None = None,
        fuzzy_edits_per_char: float = FUZZY_EDITS_PER_CHAR,
    ):
        # Edits per letter/digit a fuzzy snap may cost (``OCR_FUZZY_EDITS_PER_CHAR`` for OCR text).
        self.fuzzy_edits_per_char = fuzzy_edits_per_char
        # Whether the text decoded is this package's OCR of an image (``for_ocr``), not SROIE's
        # hand-corrected lines: OCR misreads of a company's legal form are then corrected.
        self.ocr_text = False
        self._indexes: dict[str, tuple] = {}  # field -> (forms, lengths, letter counts), built on first use
        self._endings: Counter | None = None  # legal-form endings of company keys, built on first use
        self.entries: dict[str, dict[str, Counter]] = {
            field: {form: Counter(spellings) for form, spellings in forms.items()}
            for field, forms in (entries or {}).items()
        }

    def for_ocr(self) -> FieldLexicon:
        """Set up for text this package OCR'd: a looser fuzzy snap, legal-form endings corrected."""
        self.fuzzy_edits_per_char = OCR_FUZZY_EDITS_PER_CHAR
        self.ocr_text = True
        return self

    @classmethod
    def from_keys(
        cls, keys: Iterable[Mapping[str, str]], fields: Sequence[str] = LEXICON_FIELDS
    ) -> FieldLexicon:
        """Build from key dicts (training receipts only)."""
        lexicon = cls()
        for key in keys:
            for field in fields:
                value = collapse_ws(key.get(field) or "")
                form = relaxed(value)
                if form:
                    lexicon.entries.setdefault(field, {}).setdefault(form, Counter())[value] += 1
        return lexicon

    def _spellings(self, field: str, form: str, exclude: Mapping[str, str] | None) -> Counter:
        counts = Counter(self.entries.get(field, {}).get(form, {}))
        if exclude and collapse_ws(exclude.get(field) or "") in counts:
            counts[collapse_ws(exclude[field])] -= 1
        return +counts  # drops spellings whose count fell to zero

    def knows(self, field: str, text: str, exclude: Mapping[str, str] | None = None) -> bool:
        """Whether ``text``'s letters and digits are those of a known spelling of ``field``."""
        form = relaxed(text)
        return bool(form) and bool(self._spellings(field, form, exclude))

    def snap(self, field: str, text: str, exclude: Mapping[str, str] | None = None) -> str:
        """``text`` rewritten to the most common known spelling of it, or unchanged."""
        forms = self.entries.get(field)
        form = relaxed(text)
        if not forms or not form:
            return text
        spellings = self._spellings(field, form, exclude)
        if KEEP_KNOWN and collapse_ws(text) in spellings:
            return text
        if not spellings and len(form) >= MIN_FUZZY_CHARS:
            budget = max(int(self.fuzzy_edits_per_char * len(form)), MIN_FUZZY_EDITS)
            best = None
            for other in self._near(field, form, budget):
                cost = edit_distance(form, other)
                if cost <= budget and (best is None or cost < best[0]):
                    counts = self._spellings(field, other, exclude)
                    if counts:
                        best, spellings = (cost, other), counts
        if not spellings:
            return self.legal_ending(text) if field == "company" and self.ocr_text else text
        return spellings.most_common(1)[0][0]

    def legal_ending(self, text: str) -> str:
        """``text`` with its last two words, when they are no legal-form ending of the training
        company keys, replaced by the most used such ending ``ENDING_EDITS_PER_WORD`` edits per
        word away (a legal-form word glued to the word before it split off first); else
        unchanged."""
        endings = self._company_endings()
        words = collapse_ws(text).split(" ")
        if len(words) < 3 or " ".join(words[-2:]) in endings:
            return text
        vocab = {w for ending in endings for w in ending.split(" ") if LEGAL_SUFFIX.fullmatch(w)}
        for form in sorted(vocab, key=len, reverse=True):  # "IMPRESSIONSDN BHD"
            head = words[-2][: -len(form)]
            if words[-2].endswith(form) and len(head) >= 3 and f"{form} {words[-1]}" in endings:
                return " ".join([*words[:-2], head, form, words[-1]])
        best: tuple[tuple[int, int], str] | None = None
        for ending, count in endings.items():
            parts = ending.split(" ")
            if count < MIN_ENDING_KEYS:
                continue
            costs = [edit_distance(w, p) for w, p in zip(words[-2:], parts, strict=True)]
            if max(costs) <= ENDING_EDITS_PER_WORD and (best is None or (sum(costs), -count) < best[0]):
                best = ((sum(costs), -count), ending)
        return text if best is None else " ".join([*words[:-2], best[1]])

    def _company_endings(self) -> Counter:
        """Last two words of the company keys whose last word is a legal form, with key counts."""
        if self._endings is None:
            self._endings = Counter()
            for spellings in self.entries.get("company", {}).values():
                for spelling, count in spellings.items():
                    words = spelling.split(" ")
                    if len(words) >= 3 and LEGAL_SUFFIX.fullmatch(words[-1]):
                        self._endings[" ".join(words[-2:])] += count
        return self._endings

    def _near(self, field: str, form: str, budget: int) -> list[str]:
        """Known forms of ``field`` that may be within ``budget`` edits of ``form``, in the
        lexicon's order: those whose length and letter counts allow it (an edit changes the
        length by at most 1 and the letter counts by at most 2), found with one vectorised pass
        instead of an edit distance per form (a 6,000-receipt lexicon: 80 ms -> well under 1 ms
        per snap)."""
        index = self._indexes.get(field)
        if index is None:
            names = list(self.entries.get(field, {}))
            index = (
                names,
                np.array([len(n) for n in names]),
                np.stack([_letter_counts(n) for n in names]) if names else None,
            )
            self._indexes[field] = index
        names, lengths, counts = index
        if counts is None:
            return []
        ok = np.abs(lengths - len(form)) <= budget
        ok &= np.abs(counts - _letter_counts(form)).sum(axis=1) <= 2 * budget
        return [names[i] for i in np.flatnonzero(ok)]

    def to_plain(self) -> dict[str, dict[str, dict[str, int]]]:
        """Plain nested dicts (what a checkpoint loaded with ``weights_only=True`` may hold)."""
        return {
            field: {form: {k: int(v) for k, v in spellings.items()} for form, spellings in forms.items()}
            for field, forms in self.entries.items()
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_plain(), indent=1, sort_keys=True), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> FieldLexicon:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise InputError(f"cannot read lexicon: {err}", source=str(path)) from err
        if not isinstance(data, dict):
            raise InputError(
                "a lexicon file holds a JSON object field -> {form: {spelling: count}}", source=str(path)
            )
        return cls(data)
