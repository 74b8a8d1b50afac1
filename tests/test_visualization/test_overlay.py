"""draw_overlay and LegendSegVisualizer on values: each labelled pixel is
(1 - alpha) * image + alpha * class colour, fractions dropped; ignored
pixels keep the image."""
import uuid

import numpy as np
import torch
from mmengine.structures import PixelData

from mrovseg_mmseg.visualization import LegendSegVisualizer, draw_overlay

CLASSES = ('sky', 'tree', 'road')
PALETTE = [[255, 0, 128], [0, 0, 255], [20, 240, 4]]
IMAGE = np.array([[[100, 40, 8], [0, 255, 17], [60, 0, 4]],
                  [[9, 9, 9], [200, 100, 50], [255, 255, 255]]], np.uint8)
LABELS = np.array([[0, 1, 1], [255, 2, 1]])
# alpha = 0.25, e.g. sky at (0, 0): .75 * (100, 40, 8) + .25 * (255, 0, 128)
# = (138.75, 30, 38); (1, 0) is ignored
BLENDED = np.array([[[138, 30, 38], [0, 191, 76], [45, 0, 66]],
                    [[9, 9, 9], [155, 135, 38], [191, 191, 255]]], np.uint8)


def test_labelled_pixels_are_blended_with_their_class_colour():
    drawn = draw_overlay(
        IMAGE,
        LABELS,
        CLASSES,
        PALETTE,
        alpha=0.25,
        min_size=1,
        ignore_index=255)
    np.testing.assert_array_equal(drawn[:, :3], BLENDED)


def test_small_images_are_enlarged_and_get_a_legend_by_area():
    drawn = draw_overlay(
        IMAGE,
        LABELS,
        CLASSES,
        PALETTE,
        alpha=0.25,
        min_size=64,
        ignore_index=255)
    factor = 32  # ceil(64 / 2), nearest
    enlarged = BLENDED.repeat(factor, axis=0).repeat(factor, axis=1)
    assert drawn.shape[0] == 64
    np.testing.assert_array_equal(drawn[:, :96], enlarged)
    legend = drawn[:, 96:]
    # swatch k is a box at x 6..20, y 6 + 18 k .. 18 + 18 k: tree (3
    # pixels), then sky and road (1 pixel each, in id order)
    swatches = [legend[12 + 18 * row, 13].tolist() for row in range(3)]
    assert swatches == [PALETTE[1], PALETTE[0], PALETTE[2]]
    assert legend[:, :5].min() == 255  # white margin


def test_the_visualizer_blends_with_its_alpha_and_leaves_ignored_pixels():
    visualizer = LegendSegVisualizer(
        name=f'overlay_{uuid.uuid4().hex}', alpha=0.25)
    sem_seg = PixelData(data=torch.as_tensor(LABELS)[None])
    drawn = visualizer._draw_sem_seg(IMAGE, sem_seg, CLASSES, PALETTE)
    assert drawn.shape[0] == 256  # enlarged to draw_overlay's min_size
    np.testing.assert_array_equal(drawn[::128, :384:128], BLENDED)


def test_the_visualizer_colours_class_255_of_a_16_bit_benchmark():
    classes = [f'class {i}' for i in range(300)]
    palette = [[i % 256, 255 - i % 256, 0] for i in range(300)]
    visualizer = LegendSegVisualizer(
        name=f'overlay_{uuid.uuid4().hex}', alpha=0.25)
    image = np.full((1, 2, 3), 100, np.uint8)
    sem_seg = PixelData(data=torch.tensor([[[255, 299]]]))
    drawn = visualizer._draw_sem_seg(image, sem_seg, classes, palette)
    # .75 * 100 + .25 * (255, 0, 0) and .25 * (43, 212, 0)
    assert drawn[0, 0].tolist() == [138, 75, 75]
    assert drawn[0, 256].tolist() == [85, 128, 75]
