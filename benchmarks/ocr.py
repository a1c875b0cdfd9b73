"""OCR cost and the OCR text's ceiling on SROIE validation scans.

    OMP_NUM_THREADS=1 python -m benchmarks.ocr --data ../shared/datasets/sroie \
        --engines rapidocr tesseract --n-time 20 --n-bound 100 --cache /work/ocr_cache

1. Time (per engine, in a fresh subprocess so its peak memory is its own): the first
   ``--n-time`` validation scans are decoded and OCR'd one after another in one process (one
   engine thread: the cost of one receipt on one core); seconds per receipt (median, max), the
   process's peak RSS and its children's (Tesseract runs as one child process per image). Results go into the cache, so step 2 does not read them again.
2. Ceiling (per engine): the first ``--n-bound`` validation scans OCR'd (cached), upper-cased,
   weak-labelled from their keys, the weak labels decoded with the training keys' lexicon and
   scored (``fields.label_bound``): the F1 a model trained on these labels could at best reach on
   this OCR text. Beside it, the same bound on SROIE's own box/ lines of the same receipts.

3. ``--cold-all``: every scan of ``img/`` through ``ocr.runner.ocr_files`` as training does (one
   process per core), into ``--cache``; wall seconds for the whole collection and each scan's
   engine seconds. Give it an empty cache directory for the cold-cache figure.

Prints one JSON object.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

FIELDS = ["company", "date", "address", "total"]


def _val_ids(data: Path) -> tuple[list[str], list[str]]:
    from receipt_lightning.data.images import list_image_ids
    from receipt_lightning.data.sroie import sroie_split

    return sroie_split(list_image_ids(data))


def time_engine(data: Path, engine: str, n: int, cache: str) -> dict:
    """Runs in its own process (``--time-only``): sequential OCR of n validation scans."""
    import resource

    from receipt_lightning.ocr.cache import OcrCache, cache_key
    from receipt_lightning.ocr.config import OcrConfig
    from receipt_lightning.ocr.engine import engine_version
    from receipt_lightning.ocr.runner import ocr_one

    config = OcrConfig(engine=engine, cache_dir=cache)
    version = engine_version(config)
    store = OcrCache(cache)
    _, val = _val_ids(data)
    seconds, lines = [], []
    start_all = time.perf_counter()
    for rid in val[:n]:
        raw = (data / "img" / f"{rid}.jpg").read_bytes()
        t0 = time.perf_counter()
        pages, _ = ocr_one(raw, rid, config, threads=1)  # decode + OCR, what a user waits for
        seconds.append(time.perf_counter() - t0)
        lines.append(sum(len(p.lines) for p in pages))
        store.put(cache_key(raw, version, config.engine_settings()), pages,
                  {"engine": version, "settings": config.engine_settings()})  # fmt: skip
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    # Tesseract runs as a child process per image: its own peak is the children's.
    child_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "engine": version,
        "n": len(seconds),
        "seconds_median": round(statistics.median(seconds), 3),
        "seconds_max": round(max(seconds), 3),
        "seconds_first": round(seconds[0], 3),  # includes loading the models
        "wall_seconds": round(time.perf_counter() - start_all, 1),
        "lines_median": statistics.median(lines),
        "peak_rss_mib": round(peak_mib),
        "peak_child_rss_mib": round(child_mib),
    }


def bound(data: Path, engine: str, n: int, cache: str, boxes: str) -> dict:
    from receipt_lightning.data.images import ocr_receipts
    from receipt_lightning.data.sroie import load_sroie
    from receipt_lightning.fields.keys import read_key
    from receipt_lightning.fields.label_bound import label_bound
    from receipt_lightning.fields.lexicon import FieldLexicon
    from receipt_lightning.ocr.config import OcrConfig

    train, val = _val_ids(data)
    chosen = val[:n]
    lexicon = FieldLexicon.from_keys([read_key(data / "key" / f"{i}.json", FIELDS) for i in train])
    config = OcrConfig(engine=engine, cache_dir=cache, boxes=boxes)
    items = [(i, data / "img" / f"{i}.jpg", read_key(data / "key" / f"{i}.json", FIELDS)) for i in chosen]
    t0 = time.perf_counter()
    receipts = ocr_receipts(items, config, FIELDS)
    ocr_s = time.perf_counter() - t0
    # ocr_receipts skips a scan with no text: it is still a receipt to score (all fields missed).
    ocr_lexicon = FieldLexicon(lexicon.to_plain()).for_ocr()
    result = label_bound(receipts, FIELDS, lexicon=ocr_lexicon)  # OCR text snaps as predict does
    missing = {i: {} for i in chosen} | result["predictions"]
    from receipt_lightning.fields.sroie_metrics import score

    truth = {i: k for i, _, k in items}
    full = score(missing, truth, FIELDS)
    sroie = label_bound(load_sroie(data, chosen, FIELDS), FIELDS, lexicon=lexicon)

    def brief(s: dict) -> dict:
        return {
            kind: {"f1": round(s[kind]["f1"], 4),
                   "per_field": {f: round(v["f1"], 3) for f, v in s[kind]["per_field"].items()}}
            for kind in ("exact", "relaxed")
        }  # fmt: skip

    return {
        "engine": engine,
        "boxes": boxes,
        "n_receipts": len(chosen),
        "ocr_seconds_this_call": round(ocr_s, 1),
        "bound_on_ocr": brief(full),
        "bound_on_sroie_lines": brief(sroie),
    }


def cold_all(data: Path, engine: str, cache: str) -> dict:
    """The whole collection OCR'd the way ``data=sroie_images`` does on a cold cache."""
    from receipt_lightning.data.images import find_image, list_image_ids
    from receipt_lightning.ocr.config import OcrConfig
    from receipt_lightning.ocr.runner import ocr_files

    paths = [find_image(data / "img", rid) for rid in list_image_ids(data)]
    t0 = time.perf_counter()
    docs = ocr_files(paths, OcrConfig(engine=engine, cache_dir=cache))
    wall = time.perf_counter() - t0
    read = [d.seconds for d in docs if not d.cached and d.error is None]
    return {
        "engine": docs[0].engine if docs else engine,
        "n_scans": len(docs),
        "already_cached": sum(d.cached for d in docs),
        "errors": [d.error for d in docs if d.error][:5],
        "wall_seconds": round(wall, 1),
        "engine_seconds_median": round(statistics.median(read), 2) if read else None,
        "engine_seconds_max": round(max(read), 2) if read else None,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/datasets/sroie", type=Path)
    p.add_argument("--engines", nargs="+", default=["rapidocr", "tesseract"])
    p.add_argument("--n-time", type=int, default=20)
    p.add_argument("--n-bound", type=int, default=100)
    p.add_argument("--boxes", default="line", choices=("line", "word"))
    p.add_argument("--cache", required=True, help="OCR cache directory (outside the repository)")
    p.add_argument("--cold-all", action="store_true", help="OCR every scan in img/ into --cache (step 3)")
    p.add_argument("--time-only", default=None, help=argparse.SUPPRESS)  # internal: one engine's timing
    args = p.parse_args()
    if args.time_only:
        print(json.dumps(time_engine(args.data, args.time_only, args.n_time, args.cache)))
        return
    if args.cold_all:
        print(json.dumps([cold_all(args.data, e, args.cache) for e in args.engines], indent=2))
        return
    out: dict = {"timing": [], "bound": []}
    for engine in args.engines:
        if args.n_time:
            cmd = [sys.executable, "-m", "benchmarks.ocr", "--data", str(args.data), "--cache", args.cache,
                   "--n-time", str(args.n_time), "--time-only", engine]  # fmt: skip
            res = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if res.returncode != 0:
                out["timing"].append({"engine": engine, "error": res.stderr.strip().splitlines()[-1:]})
            else:
                out["timing"].append(json.loads(res.stdout.strip().splitlines()[-1]))
            print(json.dumps(out["timing"][-1]), file=sys.stderr, flush=True)
        if args.n_bound:
            out["bound"].append(bound(args.data, engine, args.n_bound, args.cache, args.boxes))
            print(json.dumps(out["bound"][-1]), file=sys.stderr, flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
