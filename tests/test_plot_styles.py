"""Plot styles (costmodel.plots.styles) and point labels (costmodel.plots.labels): every family
its own colour and marker, every op kind its own colour, labels that do not overlap and sit
nearest to their own marker.

Colour distances are CIE76 delta E in CIELAB, computed here from the sRGB definition (IEC
61966-2-1, D65 white), not with the code under test."""
import itertools

import numpy as np
import pytest
from matplotlib.colors import to_rgb

from costmodel import zoo
from costmodel.plots import styles
from costmodel.plots.accuracy import zoo_families
from costmodel.plots.labels import place_labels
from costmodel.plots.savefig import new_figure

#: closest two colours may be (delta E 76; ~2.3 is a just noticeable difference)
MIN_DELTA_E = 18.0


def lab(color):
    rgb = np.array(to_rgb(color))
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = m @ lin / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(a, b):
    return float(np.linalg.norm(lab(a) - lab(b)))


def test_lab_reference_values():
    assert lab("#ffffff") == pytest.approx([100, 0, 0], abs=0.05)
    assert lab("#ff0000") == pytest.approx([53.24, 80.09, 67.20], abs=0.1)


def test_every_zoo_family_has_its_own_colour_and_marker():
    fams = sorted({zoo.entry(n).family for n in zoo.names()})
    assert fams == zoo_families()
    st = styles.family_styles(fams, fams)
    assert len(fams) <= styles.MAX_FAMILIES
    colors = [st[f][0] for f in fams]
    markers = [st[f][1] for f in fams]
    assert len(set(colors)) == len(fams) and len(set(markers)) == len(fams)
    worst = min(itertools.combinations(fams, 2), key=lambda p: delta_e(st[p[0]][0], st[p[1]][0]))
    assert delta_e(st[worst[0]][0], st[worst[1]][0]) >= MIN_DELTA_E, worst
    # the two the issue named: efficientnet and vgg shared a marker and a near-identical green
    assert st["efficientnet"][1] != st["vgg"][1]
    assert delta_e(st["efficientnet"][0], st["vgg"][0]) >= MIN_DELTA_E


def test_family_style_is_the_same_in_every_plot():
    fams = zoo_families()
    whole = styles.family_styles(fams, fams)
    part = styles.family_styles(["vgg", "mixnet"], fams)
    assert part["vgg"] == whole["vgg"] and part["mixnet"] == whole["mixnet"]
    assert part["your model"] == styles.USER_STYLE


def test_more_families_than_styles_still_get_unique_pairs():
    fams = [f"f{i:02d}" for i in range(60)]
    st = styles.family_styles(fams)
    assert len({(c, str(m)) for c, m in (st[f] for f in fams)}) == 60


def test_palette_colours_are_pairwise_distinct():
    cols = styles.FAMILY_COLORS[:styles.MAX_FAMILIES]
    worst = min(delta_e(a, b) for a, b in itertools.combinations(cols, 2))
    assert worst >= MIN_DELTA_E


def test_every_op_kind_gets_its_own_colour():
    kinds = sorted(set(styles.KIND_COLORS) - {"upsample"}) + ["novel_kind_a", "novel_kind_b"]
    c = styles.kind_colors(kinds)
    assert len(set(c.values())) == len(kinds)
    # the kinds of the zoo's reports: distinct enough to tell apart in a legend
    zoo_kinds = ["conv", "pointwise_conv", "depthwise_conv", "group_conv", "dilated_conv",
                 "linear", "norm", "act", "pool", "concat", "shuffle", "elementwise", "shift",
                 "split", "view", "identity"]
    c = styles.kind_colors(zoo_kinds)
    worst = min(itertools.combinations(zoo_kinds, 2), key=lambda p: delta_e(c[p[0]], c[p[1]]))
    assert delta_e(c[worst[0]], c[worst[1]]) >= 15.0, worst


def _boxes(fig, texts):
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    return [t.get_window_extent(r) for t in texts]


def test_labels_do_not_overlap_and_sit_by_their_own_marker():
    rng = np.random.default_rng(3)
    # a dense cluster (four nearly coincident points, as in the params plot) and scattered ones
    x = np.r_[[3.5, 3.52, 3.55, 3.5], rng.uniform(1, 100, 20)]
    y = np.r_[[72.0, 72.1, 71.9, 72.2], rng.uniform(50, 80, 20)]
    fig = new_figure((8, 5), dpi=100)
    ax = fig.add_subplot()
    ax.scatter(x, y)
    ax.set_xscale("log")
    ax.set_xlim(0.8, 150)
    ax.set_ylim(45, 85)
    labels = [f"model_{i}" for i in range(len(x))]
    texts = place_labels(ax, x, y, labels)
    assert [t.get_text() for t in texts] == labels
    boxes = _boxes(fig, texts)
    for a, b in itertools.combinations(range(len(boxes)), 2):
        assert not boxes[a].overlaps(boxes[b]), (labels[a], labels[b])
    pts = ax.transData.transform(np.c_[x, y])
    axbox = ax.get_window_extent()
    for i, bb in enumerate(boxes):
        assert axbox.x0 <= bb.x0 and bb.x1 <= axbox.x1 and axbox.y0 <= bb.y0 and bb.y1 <= axbox.y1
        has_leader = texts[i].arrow_patch is not None
        if not has_leader:  # a label without a leader line must be nearest to its own point
            d = [np.hypot(max(bb.x0 - px, 0, px - bb.x1), max(bb.y0 - py, 0, py - bb.y1))
                 for px, py in pts]
            assert int(np.argmin(d)) == i, labels[i]
