"""The PyTorch loader: batches decode in workers, fields and shapes as documented, and the same
samples whatever the worker count or batch size."""

import pytest
import torch

from attribution88.errors import UnknownNameError
from attribution88.loader import Attribution88Dataset, Decode, RepMixEval, make_loader


def test_items_carry_the_requested_fields(tiny_dataset):
    ds = Attribution88Dataset(tiny_dataset, "test", transform=Decode(),
                              returns=("source", "semantic", "id", "perturbation", "severity"))
    x, source, semantic, image_id, pert, sev = ds[5]
    assert x.dtype == torch.uint8 and x.shape == (3, 128, 128)
    assert image_id.startswith(("real", "style", "progan", "cramergan", "mmdgan", "sngan"))
    assert 0 <= source < 8 and 0 <= semantic < 11 and isinstance(pert, str) and 0 <= sev <= 5


def test_eval_transform_is_normalised_224(tiny_dataset):
    ds = Attribution88Dataset(tiny_dataset, "test", transform=RepMixEval())
    x, y = ds[0]
    assert x.shape == (3, 224, 224) and x.dtype == torch.float32
    assert -1.0 <= x.min() and x.max() <= 1.0


def test_workers_and_batch_size_do_not_change_samples(tiny_dataset):
    def collect(workers, batch):
        loader = make_loader(tiny_dataset, "validation", batch_size=batch, num_workers=workers,
                             transform=Decode(), returns=("source", "id"))
        out = {}
        for x, y, ids in loader:
            for xi, i in zip(x, ids):
                out[i] = xi
        return out

    a, b = collect(0, 7), collect(2, 32)
    assert a.keys() == b.keys() and len(a) == 288
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_shuffle_is_seeded(tiny_dataset):
    def order(seed):
        loader = make_loader(tiny_dataset, "train", batch_size=50, num_workers=0, seed=seed,
                             transform=Decode(), returns=("id",))
        return [i for _, ids in loader for i in ids]

    assert order(1) == order(1) and order(1) != order(2)


def test_unknown_field_is_refused(tiny_dataset):
    with pytest.raises(UnknownNameError, match="sample field"):
        Attribution88Dataset(tiny_dataset, "test", returns=("labels",))


def test_training_augmentation_is_a_function_of_id_and_epoch(tiny_dataset):
    ds = Attribution88Dataset(tiny_dataset, "train", returns=("id",))
    x0, i0 = ds[3]
    assert x0.shape == (3, 224, 224) and x0.dtype == torch.float32
    again, _ = Attribution88Dataset(tiny_dataset, "train", returns=("id",))[3]
    assert torch.equal(x0, again)
    ds.set_epoch(1)
    x1, i1 = ds[3]
    assert i0 == i1 and not torch.equal(x0, x1)


def test_validation_is_perturbed_and_fixed(tiny_dataset):
    from attribution88.loader import RepMixTrain, repmix_transform

    t = repmix_transform("validation")
    assert isinstance(t, RepMixTrain) and t.p == 1.0
    a = Attribution88Dataset(tiny_dataset, "validation")
    b = Attribution88Dataset(tiny_dataset, "validation")
    b.set_epoch(0)
    assert torch.equal(a[0][0], b[0][0])
