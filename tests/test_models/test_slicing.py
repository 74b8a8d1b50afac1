"""Slice geometry: windows cover every image; overlap only for p > 0.5."""
import itertools

import pytest
import torch

from mrovseg_mmseg.models.backbones.slicing import (cut_slices, global_view,
                                                    plan_slices)

RATIOS = (0.25, 0.5, 0.625, 0.75, 1.0)
SIZES = ((640, 640), (1024, 2048), (500, 333), (100, 150), (641, 639),
         (320, 960))


@pytest.mark.parametrize('ratio,size', list(itertools.product(RATIOS, SIZES)))
def test_windows_cover_image(ratio, size):
    grid = plan_slices(size, slice_ratio=ratio, base_size=640)
    covered = torch.zeros(size, dtype=torch.int32)
    for y in grid.offsets_y:
        for x in grid.offsets_x:
            assert y + grid.window <= grid.canvas[0]
            assert x + grid.window <= grid.canvas[1]
            covered[y:y + grid.window, x:x + grid.window] += 1
    assert covered.min() >= 1, 'some pixel is in no window'
    if ratio <= 0.5:
        assert covered.max() == 1, 'p <= 0.5 windows must not overlap'
    elif grid.rows > 1 or grid.cols > 1:
        assert covered.max() > 1, 'p > 0.5 neighbouring windows must overlap'


@pytest.mark.parametrize('size,rows,cols,window', [
    ((640, 640), 2, 2, 320),    # the training crop: exactly 2 x 2 at 320
    ((1024, 2048), 3, 6, 342),  # nearest counts, window stretched to fit
    ((1024, 1024), 3, 3, 342),
    ((600, 600), 2, 2, 320),    # never smaller than the nominal window
    ((640, 853), 2, 3, 320),    # ADE-style short side 640: padded on one side
    ((100, 150), 1, 1, 320),
])
def test_grid_follows_image_size(size, rows, cols, window):
    grid = plan_slices(size, slice_ratio=0.5, base_size=640)
    assert (grid.rows, grid.cols, grid.window) == (rows, cols, window)
    assert grid.nominal_window == 320
    padding = [c - s for c, s in zip(grid.canvas, size)]
    assert all(0 <= pad < window for pad in padding)


def test_overlapping_grid_keeps_the_nominal_window():
    grid = plan_slices((1024, 2048), slice_ratio=0.75, base_size=640)
    assert grid.window == grid.nominal_window == 480
    assert grid.canvas == (1024, 2048)
    grid = plan_slices((640, 640), slice_ratio=0.75, base_size=640)
    assert grid.offsets_y == (0, 160)
    assert plan_slices((640, 640), slice_ratio=0, base_size=640) is None


@pytest.mark.parametrize('ratio', [-0.1, 1.5])
def test_bad_ratio_names_value(ratio):
    with pytest.raises(ValueError, match=f'slice_ratio={ratio}'):
        plan_slices((64, 64), slice_ratio=ratio, base_size=64)


@pytest.mark.parametrize('ratio', [0.5, 0.75])
def test_cut_slices_are_crops_of_padded_image(ratio):
    torch.manual_seed(0)
    images = torch.randn(2, 3, 50, 70)
    grid = plan_slices((50, 70), slice_ratio=ratio, base_size=40)
    win = grid.window
    slices = cut_slices(images, grid, out_size=win)
    padded = torch.zeros(2, 3, *grid.canvas)
    padded[:, :, :50, :70] = images
    expected = [padded[b, :, y:y + win, x:x + win] for b in range(2)
                for y in grid.offsets_y for x in grid.offsets_x]
    torch.testing.assert_close(slices, torch.stack(expected))


def test_global_view_keeps_aspect_and_pads():
    images = torch.ones(1, 3, 100, 200)
    view, covered = global_view(images, 32)
    assert view.shape == (1, 3, 32, 32)
    assert covered == (16, 32)
    assert view[..., 16:, :].abs().max() == 0
    torch.testing.assert_close(view[..., :16, :],
                               torch.ones(1, 3, 16, 32))


@pytest.mark.parametrize('size', [(640, 1), (640, 2), (1, 640)])
def test_global_view_of_a_strip_shows_the_strip(size):
    """A strip's view is its own downsampling, whatever its orientation
    (torch's antialiased kernel alone gets a one-pixel-wide output wrong)."""
    length = max(size)
    ramp = torch.arange(length, dtype=torch.float32)
    images = (ramp[:, None] if size[0] > 1 else ramp[None]).expand(
        *size)[None, None]
    view, covered = global_view(images, 32)
    assert covered == ((32, 1) if size[0] > 1 else (1, 32))
    assert view[..., covered[0]:, :].abs().sum() == 0
    assert view[..., covered[1]:].abs().sum() == 0
    line = view[0, 0, :covered[0], 0] if size[0] > 1 else view[0, 0, 0, :32]
    # a ramp's antialiased 20x downsampling: away from the ends, the means
    # of runs of 20 values
    expected = ramp.view(32, 20).mean(dim=1)
    torch.testing.assert_close(line[1:-1], expected[1:-1], atol=0.01, rtol=0)
