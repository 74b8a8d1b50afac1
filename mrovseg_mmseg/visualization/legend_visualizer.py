"""mmseg's local visualizer, drawing overlays with a legend of class names."""
from typing import List, Optional

import numpy as np
from mmengine.structures import PixelData
from mmseg.registry import VISUALIZERS
from mmseg.visualization import SegLocalVisualizer

from .overlay import draw_overlay


@VISUALIZERS.register_module()
class LegendSegVisualizer(SegLocalVisualizer):
    """``SegLocalVisualizer`` whose drawings carry a legend of class names.

    Ground truth and prediction get the same size, so mmseg's side-by-side
    layout (ground truth left, prediction right) keeps working. As in mmseg,
    labels outside the classes (the ignore index, 255 or 65535) keep the
    image; 255 is a class of the 16-bit benchmarks and is coloured there.
    """

    def _draw_sem_seg(self,
                      image: np.ndarray,
                      sem_seg: PixelData,
                      classes: Optional[List],
                      palette: Optional[List],
                      with_labels: Optional[bool] = True) -> np.ndarray:
        label_map = sem_seg.cpu().data[0].numpy()
        drawn = draw_overlay(image, label_map, classes, palette,
                             alpha=self.alpha)
        self.set_image(drawn)
        return drawn
