"""The model learns: tiny MROVSeg on synthetic shapes, before vs after training."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from mrovseg_mmseg.evaluation.crop_consistency import (DEFAULT_CROPS, WHOLE,
                                                       crop_consistency)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'mrovseg_tiny_shapes64.py')


@pytest.mark.slow
def test_tiny_model_learns_synthetic_shapes(tmp_path):
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = str(tmp_path / 'work')
    data_root = str(tmp_path / 'shapes')
    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.test_dataloader):
        loader.dataset.data_root = data_root
        loader.num_workers = 0
        loader.persistent_workers = False
    cfg.train_cfg.max_iters = 600
    cfg.train_cfg.val_interval = 600
    cfg.param_scheduler[0].end = 600
    cfg.default_hooks.checkpoint.interval = 600
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    runner = Runner.from_cfg(cfg)
    untrained = runner.val()['mIoU']
    runner.train()
    trained = runner.val()['mIoU']
    print(f'synthetic shapes mIoU: untrained {untrained:.2f}, '
          f'trained {trained:.2f}')
    # six classes: a constant prediction scores at most 100/6 ~ 16.7 mIoU
    assert trained > 40.0
    assert trained > untrained + 25.0
    # the same held-out images cut to non-square windows: the predictions
    # must stay on their pixels
    scores = crop_consistency(runner.model.eval(),
                              runner.val_dataloader.dataset)
    print('held-out mIoU by window (axis, kept, anchor):',
          {key: round(value, 2) for key, value in scores.items()})
    whole = scores[WHOLE]
    # the two anchors of one cut show different pixels of the same images;
    # their gap (measured: see docs/design.md) stays well inside 5 points
    for window in DEFAULT_CROPS:
        assert scores[window] > whole - 5.0, (
            f'crop {window}: mIoU {scores[window]:.2f} against {whole:.2f} '
            'on the whole images')

