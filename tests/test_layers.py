"""Numerical and structural tests of the shift layers in costmodel.layers."""
import pytest
import torch
import torch.nn.functional as F

from costmodel.layers import SPARSE_SHIFT_DEFAULT_FRACTION, ActiveShift, GroupedShift, SparseShift


def brute_shift(x, offsets):
    """Loop reference: out[n, c, y, x] = x[n, c, y + dy, x + dx] (zero outside)."""
    n, c, h, w = x.shape
    out = torch.zeros_like(x)
    for ch in range(c):
        dy, dx = (int(v) for v in offsets[ch])
        for y in range(h):
            for xx in range(w):
                sy, sx = y + dy, xx + dx
                if 0 <= sy < h and 0 <= sx < w:
                    out[:, ch, y, xx] = x[:, ch, sy, sx]
    return out


def grouped_offsets(layer):
    offs = []
    for a, b, dy, dx in layer.groups:
        offs += [(dy, dx)] * (b - a)
    return offs


# ---------------------------------------------------------------- GroupedShift
@pytest.mark.parametrize("channels", [9, 18, 20, 5, 31])
def test_grouped_shift_equals_one_hot_depthwise_conv(channels):
    torch.manual_seed(0)
    layer = GroupedShift(channels, 3)
    x = torch.randn(2, channels, 6, 7)
    weight = torch.zeros(channels, 1, 3, 3)
    for ch, (dy, dx) in enumerate(grouped_offsets(layer)):
        weight[ch, 0, 1 + dy, 1 + dx] = 1.0
    expected = F.conv2d(x, weight, padding=1, groups=channels)
    assert torch.equal(layer(x), expected)


@pytest.mark.parametrize("kernel_size,dilation", [(3, 1), (3, 2), (5, 1), (7, 1)])
def test_grouped_shift_matches_brute_force(kernel_size, dilation):
    torch.manual_seed(1)
    c = 2 * kernel_size ** 2 + 3
    layer = GroupedShift(c, kernel_size, dilation)
    x = torch.randn(1, c, 9, 8)
    assert torch.equal(layer(x), brute_shift(x, grouped_offsets(layer)))


def test_grouped_shift_groups_and_attributes():
    layer = GroupedShift(20, 3, dilation=2)
    sizes = [b - a for a, b, _, _ in layer.groups]
    assert sum(sizes) == 20 and max(sizes) - min(sizes) <= 1 and len(sizes) == 9
    centre = [b - a for a, b, dy, dx in layer.groups if (dy, dx) == (0, 0)]
    assert layer.shifted_channels == 20 - centre[0]
    assert {abs(dy) for _, _, dy, _ in layer.groups} == {0, 2}
    assert (layer.channels, layer.kernel_size, layer.dilation) == (20, 3, 2)
    assert sum(p.numel() for p in layer.parameters()) == 0
    # fewer channels than groups: the centre group (index 4) is empty for 3 channels
    assert GroupedShift(3).shifted_channels == 3
    assert GroupedShift(5).shifted_channels == 4


def test_grouped_shift_rejects_bad_arguments():
    with pytest.raises(ValueError):
        GroupedShift(8, kernel_size=4)
    with pytest.raises(ValueError):
        GroupedShift(0)


# ---------------------------------------------------------------- ActiveShift
def test_active_shift_parameters_and_identity():
    layer = ActiveShift(6)
    assert sum(p.numel() for p in layer.parameters()) == 12
    assert layer.shift.shape == (6, 2) and layer.channels == 6
    x = torch.randn(2, 6, 5, 4)
    assert torch.allclose(layer(x), x, atol=1e-6)


def test_active_shift_integer_shift_equals_integer_shift():
    torch.manual_seed(2)
    offsets = [(1, 0), (0, -1), (-2, 1), (0, 0), (1, 1), (-1, -2)]
    layer = ActiveShift(len(offsets))
    with torch.no_grad():
        layer.shift.copy_(torch.tensor(offsets, dtype=torch.float32))
    x = torch.randn(2, len(offsets), 6, 7)
    assert torch.allclose(layer(x), brute_shift(x, offsets), atol=1e-5)


def test_active_shift_half_pixel_is_average_of_two_neighbours():
    torch.manual_seed(3)
    layer = ActiveShift(2)
    with torch.no_grad():
        layer.shift.copy_(torch.tensor([[0.5, 0.0], [0.0, -0.5]]))
    x = torch.randn(1, 2, 5, 6)
    expected0 = 0.5 * (x[:, 0] + brute_shift(x, [(1, 0), (0, 0)])[:, 0])
    expected1 = 0.5 * (x[:, 1] + brute_shift(x, [(0, 0), (0, -1)])[:, 1])
    out = layer(x)
    assert torch.allclose(out[:, 0], expected0, atol=1e-5)
    assert torch.allclose(out[:, 1], expected1, atol=1e-5)


def test_active_shift_is_differentiable_in_shift():
    layer = ActiveShift(3)
    with torch.no_grad():
        layer.shift.fill_(0.3)
    layer(torch.randn(1, 3, 5, 5)).sum().backward()
    assert layer.shift.grad is not None and layer.shift.grad.shape == (3, 2)


# ---------------------------------------------------------------- SparseShift
def test_sparse_shift_offsets_and_forward():
    torch.manual_seed(4)
    layer = SparseShift(24, 3, shifted_channels=11)
    assert layer.offsets.dtype == torch.int64 and layer.offsets.shape == (24, 2)
    offs = layer.offsets.tolist()
    assert all(o != [0, 0] for o in offs[:11]) and all(o == [0, 0] for o in offs[11:])
    assert offs[0] == offs[8] and offs[0] != offs[1]  # cycles over the 8 non-zero offsets
    x = torch.randn(2, 24, 5, 6)
    out = layer(x)
    assert torch.equal(out, brute_shift(x, offs))
    assert torch.equal(out[:, 11:], x[:, 11:])  # unshifted channels untouched
    assert sum(p.numel() for p in layer.parameters()) == 0


def test_sparse_shift_defaults_and_edge_cases():
    layer = SparseShift(100)
    assert layer.shifted_channels == round(SPARSE_SHIFT_DEFAULT_FRACTION * 100)
    assert (layer.channels, layer.kernel_size) == (100, 3)
    x = torch.randn(1, 7, 4, 4)
    assert torch.equal(SparseShift(7, shifted_channels=0)(x), x)
    full = SparseShift(7, 5, shifted_channels=7)
    assert torch.equal(full(x), brute_shift(x, full.offsets.tolist()))
    with pytest.raises(ValueError):
        SparseShift(4, shifted_channels=5)


# ---------------------------------------------------------------- all layers
LAYERS = [lambda c: GroupedShift(c, 3), lambda c: GroupedShift(c, 5, 2), ActiveShift,
          lambda c: SparseShift(c, 3, shifted_channels=c // 3)]


@pytest.mark.parametrize("make", LAYERS)
@pytest.mark.parametrize("shape", [(1, 16, 8, 8), (3, 13, 5, 9)])
def test_shape_preserved(make, shape):
    assert make(shape[1])(torch.randn(shape)).shape == shape


@pytest.mark.parametrize("make", LAYERS)
def test_forward_on_meta(make):
    layer = make(32).to("meta")
    out = layer(torch.empty(2, 32, 14, 14, device="meta"))
    assert out.device.type == "meta" and out.shape == (2, 32, 14, 14)
