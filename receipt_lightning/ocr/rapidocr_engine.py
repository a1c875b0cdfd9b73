"""RapidOCR (PP-OCR detection, 180-degree orientation and recognition models as ONNX, shipped in
the ``rapidocr`` wheel: nothing is downloaded) through onnxruntime on the CPU."""

from __future__ import annotations

import logging

import numpy as np

from receipt_lightning.ocr.engine import missing_extra
from receipt_lightning.ocr.result import OcrLine, OcrWord, box_of_points


class RapidOcrEngine:
    name = "rapidocr"

    def __init__(self, threads: int = 1) -> None:
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:
            raise missing_extra("rapidocr (with onnxruntime)", "OCR engine 'rapidocr'") from exc
        self._ocr = RapidOCR(
            params={
                "Global.log_level": "error",  # "text detection result is empty" is our empty page, not a warning
                "Global.use_cls": True,  # upside-down scans are turned by the orientation model
                "EngineConfig.onnxruntime.intra_op_num_threads": int(threads),
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            }
        )
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)

    def version(self) -> str:
        from importlib.metadata import version

        return f"rapidocr {version('rapidocr')}"

    def read(self, image) -> list[OcrLine]:
        result = self._ocr(np.asarray(image.convert("RGB"))[:, :, ::-1], return_word_box=True)  # BGR, as cv2
        if result.txts is None or result.boxes is None:
            return []
        lines = []
        words_per_line = result.word_results if len(result.word_results) == len(result.txts) else None
        for i, (text, quad, score) in enumerate(zip(result.txts, result.boxes, result.scores, strict=True)):
            words = []
            if words_per_line is not None:
                for item in words_per_line[i]:
                    if item and item[0] and item[2] is not None:
                        words.append(OcrWord(str(item[0]), box_of_points(item[2]), float(item[1])))
            lines.append(OcrLine(text=str(text), box=box_of_points(quad), confidence=float(score), words=words))
        return lines
