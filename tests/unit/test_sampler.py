"""ResumableBatchSampler: epochs from (seed, epoch) only, O(1) resume, no empty epoch after a
checkpoint on the last batch, alignment with StatefulDataLoader (with and without workers)."""

from __future__ import annotations

import itertools

import pytest
import torch
from torchdata.stateful_dataloader import StatefulDataLoader

from receipt_lightning.data.sampler import ResumableBatchSampler, length_grouped_batches
from receipt_lightning.errors import InputError

LENGTHS = [(i * 37) % 23 + 1 for i in range(50)]


def make(**kw) -> ResumableBatchSampler:
    return ResumableBatchSampler(LENGTHS, batch_size=4, seed=7, group_factor=3, **kw)


def test_each_epoch_covers_every_index_once_in_a_new_order():
    sampler = make()
    epochs = [list(sampler) for _ in range(3)]
    for batches in epochs:
        assert sorted(i for b in batches for i in b) == list(range(len(LENGTHS)))
        assert len(batches) == len(sampler) == 13
    assert epochs[0] != epochs[1] != epochs[2]
    assert epochs[1] == length_grouped_batches(LENGTHS, 4, 7, 1, True, 3)


def test_batches_are_length_grouped():
    batches = length_grouped_batches(LENGTHS, 4, 7, 0, True, 3)
    spreads = [max(LENGTHS[i] for i in b) - min(LENGTHS[i] for i in b) for b in batches]
    assert sum(spreads) / len(spreads) < 8  # random batches would spread ~15


def test_iterators_never_read_do_not_start_an_epoch():
    sampler = make()
    for _ in range(3):
        iter(sampler)  # e.g. created by a loader for a state_dict, then dropped
    assert list(sampler) == length_grouped_batches(LENGTHS, 4, 7, 0, True, 3)


@pytest.mark.parametrize("stop_after", [0, 1, 6, 12, 13])
def test_resume_continues_exactly(stop_after):
    reference = make()
    expected = [list(reference) for _ in range(2)]
    flat = [b for epoch in expected for b in epoch]

    sampler = make()
    first = list(itertools.islice(iter(sampler), stop_after))
    state = sampler.state_dict()
    resumed = make()
    resumed.load_state_dict(state)
    rest = list(resumed)
    if stop_after == len(sampler):
        # the restored epoch was complete: the next pass is the next epoch, not an empty one
        assert rest == expected[1]
    else:
        assert first + rest == expected[0]
        assert list(resumed) == expected[1]
    assert first == flat[:stop_after]


def test_set_epoch_pins_the_next_pass_but_not_over_a_restored_position():
    sampler = make()
    sampler.set_epoch(5)
    assert list(sampler) == length_grouped_batches(LENGTHS, 4, 7, 5, True, 3)
    resumed = make()
    resumed.load_state_dict({"epoch": 2, "yielded": 3})
    resumed.set_epoch(2)
    assert list(resumed) == length_grouped_batches(LENGTHS, 4, 7, 2, True, 3)[3:]


def test_bad_state_names_the_problem():
    with pytest.raises(InputError, match="bad sampler state"):
        make().load_state_dict({"epoch": 1})
    with pytest.raises(InputError, match="batch_size"):
        ResumableBatchSampler(LENGTHS, batch_size=0, seed=1)


def test_generator_state_travels_with_the_sampler():
    g = torch.Generator().manual_seed(3)
    sampler = make(generator=g)
    torch.empty(()).random_(generator=g)  # what DataLoader.__iter__ does
    state = sampler.state_dict()
    expected = torch.empty(()).random_(generator=g).item()
    g2 = torch.Generator().manual_seed(3)
    make(generator=g2).load_state_dict(state)
    assert torch.empty(()).random_(generator=g2).item() == expected


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("stop_after", [3, 13])
def test_stateful_dataloader_state_is_not_ahead(workers, stop_after):
    """Workers prefetch indices ahead of the consumer; the loader's state must still resume
    right after the last batch handed out."""
    data = torch.arange(len(LENGTHS))

    def loader(sampler):
        return StatefulDataLoader(
            data,
            batch_sampler=sampler,
            num_workers=workers,
            multiprocessing_context="fork" if workers else None,
        )

    ref = loader(make())
    expected = [b.tolist() for _ in range(2) for b in ref]

    first_loader = loader(make())
    it = iter(first_loader)
    seen = [next(it).tolist() for _ in range(stop_after)]
    state = first_loader.state_dict()
    del it
    resumed_loader = loader(make())
    resumed_loader.load_state_dict(state)
    rest = [b.tolist() for b in resumed_loader]
    assert seen == expected[:stop_after]
    assert rest == expected[stop_after : stop_after + len(rest)]
    assert len(rest) == (13 - stop_after if stop_after < 13 else 13)


def test_ranks_take_disjoint_equal_shares_of_the_same_epoch():
    from receipt_lightning.data.sampler import ResumableBatchSampler

    lengths = [(i * 7) % 50 + 1 for i in range(103)]
    one = ResumableBatchSampler(lengths, 4, seed=3)
    ranks = [ResumableBatchSampler(lengths, 4, seed=3, num_replicas=3, rank=r) for r in range(3)]
    shares = [list(s) for s in ranks]
    assert [len(s) for s in shares] == [len(one) // 3] * 3
    seen = [tuple(b) for s in shares for b in s]
    assert len(seen) == len(set(seen)), "no batch is trained on twice"
    assert set(seen) <= {tuple(b) for b in one}
