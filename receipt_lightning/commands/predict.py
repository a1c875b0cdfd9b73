"""Extract fields from receipts with a trained model: a checkpoint or run directory
(--checkpoint) or an exported directory (--model, PyTorch or ONNX). Input: a SROIE directory, a
JSONL file, or receipt images (.jpg/.jpeg/.png/.pdf files, folders of them, or - for one image on
stdin), OCR'd first (docs/ocr.md); the OCR used is written beside the predictions.

Output (--format): `files` (default) writes one <receipt id>.json per receipt into the --output
directory, shaped like SROIE's key/*.json (field -> string; fields not found are omitted);
`json` (one array) and `jsonl` (one line per receipt) write records with the same field keys
plus "id" and "details" (per field: value, confidence in [0, 1], the words and boxes it came
from) to the --output file, or to stdout with --output -. `evaluate` scores every format."""

from __future__ import annotations

import argparse

FORMATS = ("files", "json", "jsonl")


def add_arguments(p: argparse.ArgumentParser) -> None:
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--checkpoint", help="a .ckpt written by training, or a run directory (best, else last)"
    )
    source.add_argument(
        "--model", help="an exported model directory (receipt-lightning export), or as --checkpoint"
    )
    p.add_argument(
        "--input",
        required=True,
        nargs="+",
        help="a SROIE-format directory (box/) or a JSONL file; or receipt images: .jpg/.jpeg/.png/.pdf "
        "files, folders of them, or - for one image on standard input (OCR'd, docs/ocr.md)",
    )
    p.add_argument("--output", required=True, help="directory (--format files), file, or - for stdout")
    p.add_argument("--format", choices=FORMATS, default="files", help="output format (default: files)")
    p.add_argument("--ids", default=None, help="comma-separated receipt ids, or @FILE with one id per line")
    p.add_argument(
        "--split",
        choices=("train", "val", "dev", "cv"),
        default=None,
        help="only this split of a SROIE directory (the fixed split training used; dev: the "
        "development fold of the training receipts, data.dev_fold=K; cv: fold K of all receipts, "
        "data.val_fraction=0 data.dev_fold=K)",
    )
    p.add_argument(
        "--fold",
        type=int,
        default=1,
        help="with --split dev or cv: which of the five folds (data.dev_fold=K)",
    )
    p.add_argument("--batch-size", type=int, default=16, help="windows per forward pass")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (CUDA when present)")
    p.add_argument(
        "--backend",
        choices=("auto", "torch", "onnx"),
        default="auto",
        help="for an exported directory: auto takes ONNX Runtime when the export has it and the device is the CPU",
    )
    p.add_argument("--draw", default=None, metavar="DIR", help="also render each receipt as a PNG")
    p.add_argument("--threads", type=int, default=None, help="torch / ONNX Runtime threads (default: theirs)")
    p.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="progress bar on stderr (auto: from a few batches on)",
    )
    p.add_argument(
        "--no-lexicon",
        action="store_true",
        help="ignore the checkpoint's training-key spellings (company/address decoded from OCR text only)",
    )
    add_ocr_arguments(p)


def add_ocr_arguments(p: argparse.ArgumentParser) -> None:
    """Flags for image inputs (``receipt_lightning.ocr.config.OcrConfig``)."""
    g = p.add_argument_group("OCR (image inputs; needs the extra: pip install 'receipt-lightning[ocr]')")
    g.add_argument("--ocr-engine", choices=("rapidocr", "tesseract"), default="rapidocr")
    g.add_argument(
        "--ocr-boxes",
        choices=("line", "word"),
        default="line",
        help="line: words cut from OCR line boxes (as SROIE's box files); word: the engine's word boxes",
    )
    g.add_argument(
        "--ocr-keep-case", action="store_true", help="do not upper-case OCR text (SROIE keys are upper case)"
    )
    g.add_argument(
        "--ocr-keep-commas", action="store_true", help='do not write "A,B" as "A, B" (docs/ocr.md)'
    )
    g.add_argument(
        "--ocr-keep-glued",
        action="store_true",
        help='do not write "DATE:02/01/2018" as "DATE: 02/01/2018" or split a time off a date (docs/ocr.md)',
    )
    g.add_argument("--ocr-workers", type=int, default=0, help="OCR processes (0: one per core)")
    g.add_argument(
        "--ocr-cache",
        default=None,
        metavar="DIR",
        help="cache of OCR results by image content ('' disables; default: $RECEIPT_LIGHTNING_OCR_CACHE "
        "or ~/.cache/receipt-lightning/ocr)",
    )


def ocr_config(args: argparse.Namespace):
    from receipt_lightning.ocr.config import OcrConfig

    return OcrConfig(
        engine=args.ocr_engine,
        boxes=args.ocr_boxes,
        upper_case=not args.ocr_keep_case,
        space_after_comma=not args.ocr_keep_commas,
        split_glued=not args.ocr_keep_glued,
        workers=args.ocr_workers,
        cache_dir=args.ocr_cache,
    )


def _ids(spec: str | None) -> set[str] | None:
    if not spec:
        return None
    if spec.startswith("@"):
        from pathlib import Path

        return {line.strip() for line in Path(spec[1:]).read_text().splitlines() if line.strip()}
    return {s.strip() for s in spec.split(",") if s.strip()}


def wanted_ids(args: argparse.Namespace) -> set[str] | None:
    """The receipt ids ``--ids`` and ``--split`` leave (None: all). ``--split`` takes one SROIE
    directory (``box/``: OCR lines; ``img/`` without ``box/``: scans) or one folder of images (a
    SROIE ``img/``), split by receipt id as training split it."""
    wanted = _ids(args.ids)
    if args.split:
        from pathlib import Path

        from receipt_lightning.data.sroie import sroie_fold
        from receipt_lightning.errors import InputError
        from receipt_lightning.predict_images import image_paths, is_image_input

        folder = Path(args.input[0]) if len(args.input) == 1 and args.input[0] != "-" else None
        if folder is None or not folder.is_dir():
            raise InputError(
                "--split needs one SROIE directory or folder of images", source=" ".join(args.input)
            )
        if is_image_input(args.input):
            ids = sorted({Path(f).stem for f in image_paths(args.input)})
        else:
            from receipt_lightning.data.sources import detect_source
            from receipt_lightning.data.sroie import list_sroie_ids

            if detect_source(folder) != "sroie":
                raise InputError("--split needs one SROIE directory or folder of images", source=str(folder))
            ids = list_sroie_ids(folder)
        fold = args.fold if args.split in ("dev", "cv") else False
        val_fraction = 0.0 if args.split == "cv" else 0.2
        split_ids = set(
            sroie_fold(ids, dev_fold=fold, val_fraction=val_fraction)[0 if args.split == "train" else 1]
        )
        wanted = split_ids if wanted is None else wanted & split_ids
    return wanted


def select_receipts(receipts: list, wanted: set[str] | None) -> list:
    """The receipts ``wanted_ids`` leaves; a PDF's stem selects all its pages."""
    from receipt_lightning.predict_images import file_stem

    return (
        receipts if wanted is None else [r for r in receipts if r.id in wanted or file_stem(r.id) in wanted]
    )


def write_records(records: list[dict], output: str, fmt: str) -> None:
    """``json``: one array; ``jsonl``: one record per line; ``output`` "-" is stdout."""
    import json
    import sys
    from pathlib import Path

    if fmt == "json":
        text = json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    else:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    import torch
    from transformers.utils import logging as hf_logging

    from receipt_lightning.errors import InputError
    from receipt_lightning.predict import load_predictor, load_receipts

    if args.format == "files" and args.output == "-":
        raise InputError("--output - (stdout) needs --format json or jsonl")
    hf_logging.disable_progress_bar()  # transformers' weight-loading bars are noise here
    if args.threads:
        torch.set_num_threads(args.threads)
    from receipt_lightning.predict_images import is_image_input

    wanted = wanted_ids(args)
    if args.split in ("val", "dev", "cv") and args.checkpoint:
        from receipt_lightning.run_checkpoint import is_final_fit

        if is_final_fit(args.checkpoint):
            print(
                f"warning: {args.checkpoint} is a final fit on every receipt (data.val_fraction=0): "
                f"--split {args.split} scores receipts it trained on",
                file=sys.stderr,
            )
    images = None
    if is_image_input(args.input):
        # OCR before the model is loaded: a missing engine or a bad path fails at once.
        from receipt_lightning.predict_images import load_image_receipts

        images = load_image_receipts(args.input, ocr_config(args), ids=wanted)
    elif len(args.input) != 1:
        raise InputError("several --input paths are for images; give one SROIE directory or JSONL file")
    predictor = load_predictor(
        args.model or args.checkpoint,
        use_lexicon=not args.no_lexicon,
        device=args.device,
        backend=args.backend,
        threads=args.threads,
    )
    if images is not None and predictor.lexicon is not None:
        predictor.lexicon.for_ocr()  # text this package OCR'd
    fields = sorted({lab.split("-", 1)[1] for lab in predictor.label_list if lab != "O"})
    loaded = images.receipts if images is not None else load_receipts(args.input[0], fields)
    receipts = select_receipts(loaded, wanted)
    progress = {"auto": None, "always": True, "never": False}[args.progress]
    probs = predictor.word_probs(receipts, batch_size=args.batch_size, progress=progress)
    records = predictor.decode_records(receipts, probs)
    if args.format == "files":
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        for record in records:
            found = {k: v for k, v in record.items() if k not in ("id", "details")}
            (out / f"{record['id']}.json").write_text(json.dumps(found, indent=4, ensure_ascii=False) + "\n")
        print(f"wrote {len(records)} predictions to {out}")
        if images is not None:
            from receipt_lightning.predict_images import write_ocr_records

            kept = {r.id for r in receipts}
            folder = write_ocr_records({k: v for k, v in images.ocr.items() if k in kept}, out)
            print(f"wrote the OCR of each receipt to {folder}")
    else:
        if images is not None:  # the OCR each record came from, inside the record
            for record in records:
                record["ocr"] = images.ocr.get(record["id"])
        write_records(records, args.output, args.format)
        print(f"wrote {len(records)} predictions to {args.output}", file=sys.stderr)
    if args.draw:
        from receipt_lightning.draw import draw_receipts

        tags = [[predictor.label_list[i] for i in p.argmax(1)] for p in probs]
        predictions = {r["id"]: {k: v for k, v in r.items() if k not in ("id", "details")} for r in records}
        n = draw_receipts(receipts, tags, predictions, args.draw)
        print(f"drew {n} receipts to {args.draw}", file=sys.stderr if args.output == "-" else sys.stdout)
    if images is not None and images.errors:
        from receipt_lightning.errors import EXIT_FATAL

        for message in images.errors:
            print(f"receipt-lightning predict: error: {message}", file=sys.stderr)
        print(
            f"{len(images.errors)} input(s) could not be read (above); the others were predicted",
            file=sys.stderr,
        )
        return EXIT_FATAL
    return 0
