"""The paper's published rows on the leaderboard: every figure equals the RepMix paper's, every
citation names the right paper, and each evaluation set is its own table.

The figures below are typed from the RepMix paper (Bui, Yu, Collomosse, ECCV 2022): Table 1
(the "1 Sem., Clean" control set and the Attribution88 test set), the ablation study, and
Table 2 (attribution error under adversarial attack); the same figures are listed in section 4
of the project's reference notes.
"""

import pytest

from attribution88.leaderboard import load_records, render_markdown, tables

# method: (control det, attr, NMI), (test det, attr, NMI) -- Table 1
TABLE_1 = {
    "RepMix": ((1.0000, 0.9994, 0.9975), (0.9745, 0.8207, 0.6679)),
    "Yu et al. (re-implemented)": ((0.9910, 0.9838, 0.9458), (0.9306, 0.6784, 0.4666)),
    "Yu et al.": ((0.9888, 0.9844, 0.9455), (0.9190, 0.6322, 0.4028)),
    "DCT-CNN": ((0.9922, 0.9838, 0.9526), (0.9001, 0.6447, 0.4061)),
    "Reverse Eng.": ((0.9976, 0.9960, 0.9834), (0.8665, 0.5637, 0.3653)),
    "EigenFace": ((0.8262, 0.6538, 0.4515), (0.7829, 0.1515, 0.0034)),
    "PRNU": ((0.8544, 0.8482, 0.7389), (0.7845, 0.1252, 0.0003)),
}
# configuration: (det, attr, NMI) -- the ablation study (ResNet-50 unless the backbone changes)
ABLATION = {
    "repmix": (0.9426, 0.7400, 0.5546),
    "repmix/no-compound-loss": (0.9364, 0.7204, 0.5280),
    "repmix/no-mixing": (0.9296, 0.7188, 0.5205),
    "repmix/no-mixing/no-compound-loss": (0.9283, 0.7129, 0.5167),
    "repmix/no-augmentation": (0.7044, 0.2762, 0.0856),
    "repmix/vgg16": (0.9493, 0.7150, 0.5315),
    "repmix/alexnet": (0.8818, 0.5280, 0.2817),
    "repmix/resnet101": (0.9523, 0.7430, 0.5546),
    "repmix/densenet121": (0.9504, 0.7474, 0.5673),
}
# method: attribution error at eps 2, 4, 8, 16, 24, 32 / 255 -- Table 2
TABLE_2 = {
    "RepMix": (0.1509, 0.1952, 0.2454, 0.3008, 0.3333, 0.3572),
    "Yu et al.": (0.2113, 0.2709, 0.3328, 0.3945, 0.4303, 0.4534),
    "DCT-CNN": (0.1545, 0.2190, 0.2831, 0.3375, 0.3642, 0.3812),
}
EPS = ("2/255", "4/255", "8/255", "16/255", "24/255", "32/255")
# method: words its citation must contain (title, authors, venue, year), and its link
CITATIONS = {
    "RepMix": (("RepMix", "Bui", "ECCV 2022"), "https://arxiv.org/abs/2207.02063"),
    "Yu et al. (re-implemented)": (("Attributing Fake Images to GANs", "Yu", "ICCV 2019"),
                                   "https://arxiv.org/abs/1811.08180"),
    "Yu et al.": (("Attributing Fake Images to GANs", "Yu", "ICCV 2019"), "https://arxiv.org/abs/1811.08180"),
    "DCT-CNN": (("Leveraging Frequency Analysis for Deep Fake Image Recognition", "Frank", "ICML 2020"),
                "https://arxiv.org/abs/2003.08685"),
    "Reverse Eng.": (("Reverse Engineering of Generative Models", "Asnani", "2021"),
                     "https://arxiv.org/abs/2106.07873"),
    "EigenFace": (("Low-dimensional procedure for the characterization of human faces", "Sirovich",
                   "Kirby", "JOSA A 4(3)", "1987"), "https://doi.org/10.1364/JOSAA.4.000519"),
    "PRNU": (("Do GANs leave artificial fingerprints?", "Marra", "IEEE MIPR 2019"),
             "https://arxiv.org/abs/1812.11842"),
}
METRICS = ("detection_accuracy", "attribution_accuracy", "nmi")


@pytest.fixture(scope="module")
def published():
    records = [r for r in load_records() if r.kind == "published"]  # scored runs may sit beside them
    return {(r.data["set"], r.name): r for r in records}


def _figures(record):
    return tuple(record.metrics[k].value for k in METRICS)


def test_every_table_1_figure_is_the_papers(published):
    for name, (control, test) in TABLE_1.items():
        assert _figures(published["control", name]) == control, name
        assert _figures(published["test", name]) == test, name
    assert {n for s, n in published if s in ("control", "test")} == set(TABLE_1)


def test_every_ablation_figure_is_the_papers(published):
    ablation = {r.configuration: _figures(r) for (s, _), r in published.items() if s == "ablation"}
    assert ablation == ABLATION


def test_every_adversarial_error_is_the_papers(published):
    attacked = {name: tuple(m.value for _, m in r.adversarial_by_eps())
                for (s, name), r in published.items() if r.adversarial}
    assert attacked == TABLE_2
    for name in TABLE_2:
        assert [e for e, _ in published["test", name].adversarial_by_eps()] == list(EPS)
        assert published["test", name].data["set"] == "test"


def test_no_published_figure_has_an_invented_interval_or_metric(published):
    for r in published.values():
        assert set(r.metrics) == set(METRICS), r.name
        assert all(m.low is None and m.high is None for m in [*r.metrics.values(), *r.adversarial.values()])


def test_each_citation_names_the_right_paper(published):
    for (s, name), r in published.items():
        words, url = CITATIONS["RepMix" if s == "ablation" else name]
        for w in words:
            assert w in r.reference["paper"], (name, s, w)
        assert r.reference["url"] == url, (name, s)
        assert "RepMix paper" in r.source  # where the figure is quoted from
    assert "Frank" not in published["test", "PRNU"].reference["paper"]
    assert "Yu" not in published["test", "EigenFace"].reference["paper"]


def test_each_set_is_its_own_table_never_ranked_with_another(published):
    boards = {t.key: t for t in tables(list(published.values()))}
    assert list(boards) == ["published/test", "published/control", "published/ablation"]
    for key, t in boards.items():
        assert {r.data["set"] for r in t.rows} == {key.split("/")[1]}
    assert [r.name for r in boards["published/control"].rows][:2] == ["RepMix", "Reverse Eng."]
    page = render_markdown(list(published.values()))
    test_part, rest = page.split('## "1 Sem., Clean" control set (published)')
    control_part, ablation_part = rest.split("## Ablation study (published)")
    assert "0.9994" not in test_part and "0.9994" in control_part  # RepMix's control attribution
    assert "| 1 | RepMix | 0.8207" in test_part and "0.8207" not in control_part + ablation_part
    assert "eps 32/255" in test_part and "0.3572" in test_part
