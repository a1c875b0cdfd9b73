"""RNG state capture/restore (weights_only-loadable), private loader generators, and the
epoch-end loop-state rewind used on resume."""

from __future__ import annotations

import io
import random

import numpy as np
import torch

from receipt_lightning.training.checkpointing.exact_resume import rewind_epoch_end
from receipt_lightning.training.checkpointing.rng import (
    capture_rng_state,
    give_private_generators,
    restore_rng_state,
)


def draws() -> tuple:
    return (
        torch.rand(3).tolist(),
        np.random.rand(3).tolist(),
        [random.random() for _ in range(3)],
        np.random.randn(),
    )


def test_rng_state_round_trips_through_a_weights_only_load():
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    np.random.randn()  # leave a cached gaussian in numpy's state
    buf = io.BytesIO()
    torch.save(capture_rng_state(), buf)
    expected = draws()
    buf.seek(0)
    restore_rng_state(torch.load(buf, weights_only=True))
    assert draws() == expected


def test_loaders_without_generator_get_a_private_one():
    data = list(range(8))
    own = torch.Generator().manual_seed(1)
    with_gen = torch.utils.data.DataLoader(data, generator=own)
    without = torch.utils.data.DataLoader(data)
    assert give_private_generators([with_gen, {"val": [without]}, None]) == 1
    assert with_gen.generator is own and without.generator is not None
    before = torch.get_rng_state()
    iter(without)
    assert torch.equal(torch.get_rng_state(), before)  # iter() no longer draws from the global RNG


def _loops(ready, started, processed, completed, last):
    progress = {"ready": ready, "started": started, "processed": processed, "completed": completed}
    return {
        "loops": {
            "fit_loop": {
                "epoch_progress": {"total": dict(progress), "current": dict(progress)},
                "epoch_loop.batch_progress": {"is_last_batch": last},
            }
        }
    }


def test_epoch_end_state_is_rewound_and_others_are_left_alone():
    at_epoch_end = _loops(1, 1, 1, 0, True)
    assert rewind_epoch_end(at_epoch_end)
    assert at_epoch_end["loops"]["fit_loop"]["epoch_progress"]["total"]["processed"] == 0
    for other in (_loops(1, 1, 0, 0, False), _loops(1, 1, 0, 0, True), _loops(2, 2, 1, 1, False)):
        snapshot = repr(other)
        assert not rewind_epoch_end(other) and repr(other) == snapshot
