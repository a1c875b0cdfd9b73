"""Place synthetic receipt text on a page as OCR words with pixel boxes, adding OCR-like noise.

The content generators describe a receipt as printed lines of *cells*; this module turns them
into what an OCR engine would return: one word per whitespace token, a box per word, line ids in
reading order. A receipt printer is monospaced, so positions are worked out in character columns
and converted to pixels with one character width per page; jitter, a slight skew and noise on
unlabelled words make it look scanned.
"""

from __future__ import annotations

import random

from receipt_lightning.receipt import Box

# A token is (text, role): role is the field the word belongs to ("total", "date", ...) or None.
Token = tuple[str, "str | None"]
# A cell is (align, column, tokens): align "l" starts at `column`, "r" ends at `column`,
# "c" is centred on the line (column ignored); a "+" after the letter ("l+") prints the whole
# line double height, as tills print the total. A line is a list of cells, left to right; an
# empty line means extra vertical space (no OCR line).
Cell = tuple[str, int, list[Token]]
Line = list[Cell]

# Characters an OCR engine confuses, both ways (O/0, l/1, S/5, B/8, I/1).
CONFUSIONS: dict[str, str] = {"O": "0", "0": "O", "l": "1", "1": "l", "S": "5", "5": "S", "B": "8", "I": "1"}
# Per unlabelled word probabilities of each kind of noise.
P_SUBSTITUTE = 0.04
P_CASE = 0.02
P_SPLIT = 0.02
P_MERGE = 0.02

# A placed token: text, role, first character column, width in characters.
Placed = tuple[str, "str | None", float, int]


def tokens(text: str, role: str | None = None) -> list[Token]:
    """Split printed text on whitespace into tokens that all carry `role`."""
    return [(word, role) for word in text.split()]


def cell_width(toks: list[Token]) -> int:
    """Printed width of a cell in characters (words plus single spaces)."""
    return sum(len(t) for t, _ in toks) + max(0, len(toks) - 1)


def wrap(words: list[str], width: int) -> list[list[str]]:
    """Greedy word wrap to lines of at most `width` characters (a longer word gets its own line)."""
    lines: list[list[str]] = []
    current: list[str] = []
    for word in words:
        if current and len(" ".join([*current, word])) > width:
            lines.append(current)
            current = []
        current.append(word)
    if current:
        lines.append(current)
    return lines


def _place_cell(cell: Cell, cols: int, rng: random.Random) -> list[Placed]:
    align, column, toks = cell
    width = cell_width(toks)
    if align[0] == "r":
        start = column - width
    elif align[0] == "c":
        start = (cols - width) / 2 + rng.uniform(-1.0, 1.0)
    else:
        start = column
    start = min(max(0.0, start), max(0.0, cols - width))
    placed: list[Placed] = []
    for text, role in toks:
        placed.append((text, role, start, len(text)))
        start += len(text) + 1
    return placed


def _noisy(placed: list[Placed], rng: random.Random) -> list[Placed]:
    """OCR noise on unlabelled words only, so labelled words always spell the key values."""
    out: list[Placed] = []
    i = 0
    while i < len(placed):
        text, role, start, n = placed[i]
        if role is not None:
            out.append(placed[i])
            i += 1
            continue
        nxt = placed[i + 1] if i + 1 < len(placed) else None
        adjacent = nxt is not None and nxt[2] - (start + n) <= 1.5  # chars: one space apart
        if adjacent and nxt[1] is None and rng.random() < P_MERGE:
            # Two words read as one: the box spans both, the gap between them is lost.
            out.append((text + nxt[0], None, start, round(nxt[2] + nxt[3] - start)))
            i += 2
            continue
        if rng.random() < P_SUBSTITUTE:
            spots = [k for k, ch in enumerate(text) if ch in CONFUSIONS]
            if spots:
                k = rng.choice(spots)
                text = text[:k] + CONFUSIONS[text[k]] + text[k + 1 :]
        if rng.random() < P_CASE:
            text = text.lower() if rng.random() < 0.7 else text.title()
        if len(text) >= 4 and rng.random() < P_SPLIT:
            # One word read as two: adjacent boxes, no space between them.
            k = rng.randint(1, len(text) - 1)
            out.append((text[:k], None, start, k))
            out.append((text[k:], None, start + k, len(text) - k))
        else:
            out.append((text, None, start, n))
        i += 1
    return out


def render(
    lines: list[Line], cols: int, rng: random.Random
) -> tuple[list[str], list[Box], list[str | None], list[int], int, int]:
    """Lay `lines` out on a page of `cols` character columns.

    Returns (words, boxes, roles, line_ids, width, height); boxes are page pixels inside
    [0, width] x [0, height], line ids count OCR lines from 0 in reading order.
    """
    width = rng.randint(400, 600)  # px, typical of SROIE scans of 80 mm till rolls
    margin = rng.uniform(0.03, 0.08) * width
    char_w = (width - 2 * margin) / cols  # px per printed character
    line_h = char_w * rng.uniform(1.7, 2.3)  # px from one baseline to the next
    char_h = line_h * rng.uniform(0.55, 0.75)  # px height of a word box
    skew = rng.uniform(-0.01, 0.01)  # px of vertical drift per px across: a slightly rotated scan
    y = rng.uniform(15.0, 60.0)
    words: list[str] = []
    raw: list[tuple[float, float, float, float]] = []
    roles: list[str | None] = []
    line_ids: list[int] = []
    line_no = 0
    for line in lines:
        if not line:
            y += line_h * rng.uniform(0.4, 1.0)
            continue
        placed = [p for cell in line for p in _place_cell(cell, cols, rng)]
        placed = _noisy(placed, rng)
        # A line longer than the paper is squeezed to fit rather than running off the page.
        squeeze = min(1.0, cols / max(start + n for _, _, start, n in placed))
        tall = 1.8 if any(align.endswith("+") for align, _, _ in line) else 1.0  # x normal height
        line_y = y + rng.uniform(-1.5, 1.5)
        for text, role, start, n in placed:
            x0 = margin + (start + rng.uniform(-0.3, 0.3)) * char_w * squeeze
            x1 = x0 + n * char_w * squeeze * rng.uniform(0.9, 1.05)
            y0 = line_y + skew * (x0 - width / 2) + rng.uniform(-1.0, 1.0)
            words.append(text)
            raw.append((x0, y0, x1, y0 + char_h * tall))
            roles.append(role)
            line_ids.append(line_no)
        line_no += 1
        y += line_h * (tall - 1.0 + rng.uniform(0.95, 1.1))
    height = int(y + rng.uniform(20.0, 60.0))
    boxes = [_clamp(b, width, height) for b in raw]
    return words, boxes, roles, line_ids, width, height


def _clamp(box: tuple[float, float, float, float], width: int, height: int) -> Box:
    x0 = min(max(0, round(box[0])), width - 1)
    y0 = min(max(0, round(box[1])), height - 1)
    x1 = min(max(x0 + 1, round(box[2])), width)
    y1 = min(max(y0 + 1, round(box[3])), height)
    return (x0, y0, x1, y1)
