"""tools/test.py --show-dir on an open-vocabulary config whose training
classes differ from its test classes: overlays are drawn with the test
dataset's names and colours, and the training data is never loaded."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from mrovseg_mmseg.datasets.material_world import (MATERIAL_CLASSES,
                                                   MATERIAL_PALETTE,
                                                   generate_material_world)
from mrovseg_mmseg.visualization.overlay import draw_overlay

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'configs/zero_shot_demo/mrovseg_tiny_materials64_random-clip.py'


@pytest.mark.slow
def test_overlays_use_the_test_classes(tmp_path):
    from mmseg.registry import MODELS
    import mrovseg_mmseg  # noqa: F401
    data_root = tmp_path / 'world'
    generate_material_world(str(data_root), num_train=1, num_val=2, seed=4)
    cfg = Config.fromfile(CONFIG)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    checkpoint = tmp_path / 'model.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), checkpoint)
    work_dir = tmp_path / 'work'
    result = subprocess.run(
        [sys.executable, 'tools/test.py', str(CONFIG), str(checkpoint),
         '--work-dir', str(work_dir), '--show-dir', 'vis', '--cfg-options',
         f'test_dataloader.dataset.data_root={data_root}',
         'test_dataloader.num_workers=0',
         'test_dataloader.persistent_workers=False',
         # training data that does not exist must not matter to a test run
         'train_dataloader.dataset.data_root=/nonexistent/world',
         'train_dataloader.dataset.generate=False'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    alpha = 0.8  # SegLocalVisualizer's default, which the config keeps
    assert cfg.visualizer.get('alpha', alpha) == alpha
    for index in range(2):
        image = np.asarray(Image.open(data_root / f'images/val/{index:05d}.png'))
        label = np.asarray(
            Image.open(data_root / f'annotations/val/{index:05d}.png'))
        expected = draw_overlay(image, label, MATERIAL_CLASSES,
                                MATERIAL_PALETTE, alpha=alpha,
                                ignore_index=255)
        saved, = (work_dir / 'vis/vis_data/vis_image').glob(
            f'test_{index:05d}.png_*.png')
        drawn = np.asarray(Image.open(saved).convert('RGB'))
        np.testing.assert_array_equal(drawn[:, :expected.shape[1]], expected)
