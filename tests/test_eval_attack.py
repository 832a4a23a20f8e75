"""PGD under L-infinity and the adversarial report (issue: the paper's Table 2 as a scorer
report): budgets, reproducibility, optimality on a linear model, the sanity checks."""

import pytest
import torch

from attribution88.errors import UsageError
from attribution88.eval.attack import evaluate, parse_eps, pgd
from attribution88.eval.results import AdversarialReport, ScoreResult


def linear_model(seed=0, k=8, d=3 * 8 * 8):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(k, d, generator=g)
    b = torch.randn(k, generator=g)
    return lambda x: x.flatten(1) @ w.T + b, w, b


def data(n=40, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, 8, 8, generator=g), torch.randint(0, 8, (n,), generator=g)


def test_adversarial_images_stay_within_the_budget_and_in_range():
    f, _, _ = linear_model()
    x, y = data()
    for eps in (1 / 255, 8 / 255, 32 / 255):
        adv = pgd(f, x, y, eps, steps=7, seed=3)
        assert (adv - x).abs().max() <= eps + 1e-6
        assert adv.min() >= 0 and adv.max() <= 1


def test_budget_zero_is_the_clean_image_and_runs_are_reproducible():
    f, _, _ = linear_model()
    x, y = data()
    assert torch.equal(pgd(f, x, y, 0.0, steps=5), x)
    a, b = pgd(f, x, y, 4 / 255, 5, seed=9), pgd(f, x, y, 4 / 255, 5, seed=9)
    assert torch.equal(a, b)
    assert not torch.equal(a, pgd(f, x, y, 4 / 255, 5, seed=10))  # the random start is the seed's


def test_pgd_reaches_the_analytic_worst_case_of_a_two_class_linear_model():
    # logits (0, m(x)) with m linear: the worst L-inf perturbation of budget eps lowers the
    # true class's margin by exactly eps * ||w||_1 (inside the box [0, 1]); PGD must find every
    # image that such a perturbation flips, and flip no other.
    g = torch.Generator().manual_seed(5)
    w = torch.randn(48, generator=g)
    x = torch.rand(200, 3, 4, 4, generator=g) * 0.5 + 0.25  # away from the box, so it never binds
    y = torch.ones(200, dtype=torch.long)

    def f(z):
        m = z.flatten(1) @ w - 0.1
        return torch.stack([torch.zeros_like(m), m], 1)

    eps = 4 / 255
    margin = x.flatten(1) @ w - 0.1
    flippable = (margin > 0) & (margin < eps * w.abs().sum())
    adv = pgd(f, x, y, eps, steps=20)
    flipped = (f(adv).argmax(1) != y) & (margin > 0)
    assert flippable.sum() > 5
    assert torch.equal(flipped, flippable)


def test_report_errors_grow_with_the_budget_and_checks_pass():
    f, _, _ = linear_model()
    x, y = data(64)
    report = evaluate(f, [(x[:32], y[:32]), (x[32:], y[32:])], (2, 8, 32), steps=8, resamples=200)
    errors = [e.attribution_error.value for e in report.per_eps]
    assert [e.eps for e in report.per_eps] == [0, 2, 8, 32]
    assert errors == sorted(errors) and errors[-1] > errors[0]
    assert report.checks["eps0_equals_clean"] and report.checks["within_budget"]
    assert report.checks["monotone"] and report.checks["images_out_of_range"] == 0
    assert report.n == 64 and report.checks["clean_error"] == errors[0]
    for e in report.per_eps:
        est = e.attribution_error
        assert est.low <= est.value <= est.high
        assert 0 <= e.detection_error.value <= est.value  # a detection error is an attribution error


def test_a_falling_error_is_reported_as_possible_gradient_masking():
    # a model that is right only when the image moved far from where it was: larger budgets
    # make it right again, so the error falls with eps
    x, y = data(16)
    ref = x.clone()

    def f(z):
        far = (z - ref[: len(z)]).abs().flatten(1).amax(1) > 5 / 255
        logits = torch.zeros(len(z), 8) + (z.sum() * 0)  # keeps a graph for the gradient
        right = torch.nn.functional.one_hot(y[: len(z)], 8).float()
        wrong = torch.nn.functional.one_hot((y[: len(z)] + 1) % 8, 8).float()
        clean = (z - ref[: len(z)]).abs().amax().eq(0)  # the clean images are classified right
        return logits + torch.where(far[:, None] | clean, right, wrong)

    report = evaluate(f, [(x, y)], (2, 16), steps=3, resamples=0)
    assert not report.checks["monotone"]
    assert any("gradient masking" in w for w in report.warnings)


def test_eps_parsing():
    assert parse_eps("8,2, 4") == (2.0, 4.0, 8.0)
    for bad, msg in (("2,x", "'x' is not a number"), ("300", "outside 0..255"), ("-1", "outside")):
        with pytest.raises(UsageError, match=msg):
            parse_eps(bad)


def test_results_documents_carry_the_adversarial_section_and_old_ones_still_read():
    f, _, _ = linear_model()
    x, y = data(16)
    report = evaluate(f, [(x, y)], (4,), steps=2, resamples=50, model="test")
    doc = {"kind": "attribution88.score", "schema_version": 2, "n": 16, "metrics": {},
           "adversarial": report.to_dict()}
    back = ScoreResult.from_dict(doc)
    assert back.adversarial == AdversarialReport.from_dict(report.to_dict())
    assert back.to_dict()["adversarial"]["per_eps"][1]["eps"] == 4
    old = ScoreResult.from_dict({"kind": "attribution88.score", "schema_version": 1, "n": 3, "metrics": {}})
    assert old.adversarial is None and "adversarial" not in old.to_dict()
