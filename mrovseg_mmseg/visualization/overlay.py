"""Colour overlays of label maps with a legend of the class names shown."""
import colorsys
from typing import List, Optional, Sequence

import cv2
import numpy as np


def make_palette(num_classes: int, seed: int = 0) -> List[List[int]]:
    """Distinct, deterministic RGB colours (golden-ratio hue steps)."""
    colours = []
    for index in range(num_classes):
        hue = (seed * 0.1 + index * 0.618033988749895) % 1.0
        saturation = 0.65 + 0.35 * ((index // 7) % 2)
        value = 0.95 - 0.3 * ((index // 3) % 2)
        rgb = colorsys.hsv_to_rgb(hue, saturation, value)
        colours.append([int(round(255 * c)) for c in rgb])
    return colours


def _legend(labels: Sequence[int], classes: Sequence[str],
            palette: Sequence[Sequence[int]], height: int) -> np.ndarray:
    """An RGB panel of colour swatches and names, as tall as the image."""
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1
    row = 18
    rows_per_column = max(1, (height - 8) // row)
    names = [str(classes[label]) for label in labels]
    text_width = max([cv2.getTextSize(n, font, scale, thickness)[0][0]
                      for n in names] + [40])
    column_width = text_width + 30
    columns = max(1, -(-len(labels) // rows_per_column))
    panel = np.full((height, columns * column_width + 8, 3), 255, np.uint8)
    for index, (label, name) in enumerate(zip(labels, names)):
        column, line = divmod(index, rows_per_column)
        x, y = 6 + column * column_width, 6 + line * row
        colour = tuple(int(c) for c in palette[label])
        cv2.rectangle(panel, (x, y), (x + 14, y + 12), colour, -1)
        cv2.rectangle(panel, (x, y), (x + 14, y + 12), (0, 0, 0), 1)
        cv2.putText(panel, name, (x + 20, y + 11), font, scale, (0, 0, 0),
                    thickness, cv2.LINE_AA)
    return panel


def draw_overlay(image: np.ndarray,
                 label_map: np.ndarray,
                 classes: Sequence[str],
                 palette: Optional[Sequence[Sequence[int]]] = None,
                 *,
                 alpha: float = 0.5,
                 min_size: int = 256,
                 ignore_index: Optional[int] = None) -> np.ndarray:
    """Blend class colours over an RGB image and append a legend.

    A pixel of class k becomes ``(1 - alpha) * image + alpha * palette[k]``,
    fractions dropped (as mmseg's ``SegLocalVisualizer``); pixels whose label
    is ``ignore_index`` or not a class id keep the image. The legend lists
    the classes present, largest area first.

    Args:
        image: (H, W, 3) uint8 RGB.
        label_map: (H, W) integer class ids.
        classes: class names indexed by id.
        palette: RGB colour per class; generated when None.
        min_size: small images are enlarged (nearest) to this shorter side so
            the legend stays readable.
        ignore_index: label drawn without colour.

    Returns:
        (H', W' + legend, 3) uint8 RGB.
    """
    palette = palette if palette is not None else make_palette(len(classes))
    label_map = np.asarray(label_map)
    present = [int(v) for v in np.unique(label_map)
               if v != ignore_index and 0 <= v < len(classes)]
    colour_map = np.zeros_like(image)
    painted = np.zeros(label_map.shape, dtype=bool)
    for label in present:
        mask = label_map == label
        colour_map[mask] = palette[label]
        painted |= mask
    blended = image.astype(np.float32)
    blended[painted] = (1 - alpha) * blended[painted] + alpha * colour_map[
        painted]
    blended = blended.astype(np.uint8)
    short = min(blended.shape[:2])
    if short < min_size:
        factor = int(np.ceil(min_size / short))
        blended = cv2.resize(blended, None, fx=factor, fy=factor,
                             interpolation=cv2.INTER_NEAREST)
    order = sorted(present, key=lambda l: -int((label_map == l).sum()))
    legend = _legend(order, classes, palette, blended.shape[0])
    return np.concatenate([blended, legend], axis=1)
