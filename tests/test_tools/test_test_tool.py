"""tools/test.py, in-process, with a model that predicts the ground truth:
--out writes 16-bit label maps whose ids above 255 survive, and checkpoints
load strictly unless --non-strict is given."""
import importlib.util
import os.path as osp
import sys
import uuid
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from PIL import Image

from mrovseg_mmseg.engine.hooks import CheckpointMismatchError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# ADE-847 train ids of the two images: 256 and 846 need 16 bits
LABELS = {
    'scene_a': np.array([[0, 255, 256], [300, 846, 7]], np.uint16),
    'scene_b': np.array([[846, 846, 1], [2, 511, 256]], np.uint16),
}


@MODELS.register_module(force=True)
class GroundTruthEcho(BaseModel):
    """Predicts each image's ground truth; two weights to load."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(2))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        for sample in data_samples:
            sample.pred_sem_seg = PixelData(
                data=sample.gt_sem_seg.data.clone())
        return data_samples


def load_test_tool():
    spec = importlib.util.spec_from_file_location(
        'mrovseg_test_tool', osp.join(REPO, 'tools', 'test.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def ade847_config(tmp_path):
    """A config testing GroundTruthEcho on two ADE-847 images."""
    root = tmp_path / 'ade847'
    (root / 'images').mkdir(parents=True)
    (root / 'annotations').mkdir()
    for name, labels in LABELS.items():
        image = np.zeros((*labels.shape, 3), np.uint8)
        Image.fromarray(image).save(root / 'images' / f'{name}.jpg')
        Image.fromarray(labels).save(root / 'annotations' / f'{name}.tif')
    cfg = Config(
        dict(
            default_scope='mmseg',
            experiment_name=f'test_tool_{uuid.uuid4().hex}',
            log_level='WARNING',
            model=dict(type='GroundTruthEcho'),
            test_dataloader=dict(
                batch_size=1,
                num_workers=0,
                sampler=dict(type='DefaultSampler', shuffle=False),
                dataset=dict(
                    type='ADE847Dataset',
                    data_root=str(root),
                    data_prefix=dict(
                        img_path='images', seg_map_path='annotations'),
                    pipeline=[
                        dict(type='LoadImageChecked'),
                        dict(type='LoadAnnotations16'),
                        dict(type='PackSegInputs')
                    ])),
            test_evaluator=dict(
                type='IoUMetric', iou_metrics=['mIoU'], ignore_index=65535),
            test_cfg=dict(type='TestLoop')))
    path = tmp_path / 'echo_ade847.py'
    cfg.dump(str(path))
    return str(path)


def save_checkpoint(path, state) -> str:
    torch.save(dict(state_dict=state, meta={}), path)
    return str(path)


def run_test_tool(monkeypatch, *args) -> Runner:
    """``python tools/test.py *args`` in this process; returns its Runner."""
    tool = load_test_tool()
    runners = []

    def from_cfg(cfg):
        runners.append(Runner.from_cfg(cfg))
        return runners[-1]

    monkeypatch.setattr(tool, 'Runner', SimpleNamespace(from_cfg=from_cfg))
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.setattr(sys, 'argv', ['test.py', *args])
    tool.main()
    return runners[0]


def test_out_keeps_class_ids_above_255(ade847_config, tmp_path, monkeypatch):
    checkpoint = save_checkpoint(tmp_path / 'echo.pth',
                                 GroundTruthEcho().state_dict())
    out = tmp_path / 'labels'
    run_test_tool(monkeypatch, ade847_config, checkpoint, '--work-dir',
                  str(tmp_path / 'work'), '--out', str(out))
    assert sorted(path.name
                  for path in out.iterdir()) == ['scene_a.png', 'scene_b.png']
    for name, labels in LABELS.items():
        written = cv2.imread(str(out / f'{name}.png'), cv2.IMREAD_UNCHANGED)
        assert written.dtype == np.uint16
        np.testing.assert_array_equal(written, labels)


def mismatched_checkpoint(tmp_path) -> str:
    """``weight`` matches, ``bias`` is missing, ``offset`` unexpected."""
    return save_checkpoint(
        tmp_path / 'mismatched.pth',
        dict(weight=torch.tensor([3.0, 4.0]), offset=torch.ones(1)))


@pytest.mark.parametrize('hooks', [
    [],
    [dict(type='StrictLoadHook', strict=False)],
])
def test_a_mismatched_checkpoint_is_refused_by_default(ade847_config, tmp_path,
                                                       monkeypatch, hooks):
    """Whether or not the config lists StrictLoadHook, and how."""
    cfg = Config.fromfile(ade847_config)
    cfg.custom_hooks = hooks
    cfg.dump(ade847_config)
    checkpoint = mismatched_checkpoint(tmp_path)
    out = tmp_path / 'labels'
    with pytest.raises(CheckpointMismatchError) as error:
        run_test_tool(monkeypatch, ade847_config, checkpoint, '--work-dir',
                      str(tmp_path / 'work'), '--out', str(out))
    message = str(error.value)
    assert checkpoint in message
    assert '1 missing keys: bias' in message
    assert '1 unexpected keys: offset' in message
    assert '--non-strict' in message
    assert not list(out.glob('*.png'))


def test_non_strict_loads_the_matching_part(ade847_config, tmp_path,
                                            monkeypatch):
    checkpoint = mismatched_checkpoint(tmp_path)
    out = tmp_path / 'labels'
    runner = run_test_tool(monkeypatch, ade847_config, checkpoint,
                           '--work-dir', str(tmp_path / 'work'), '--out',
                           str(out), '--non-strict')
    assert runner.model.weight.tolist() == [3.0, 4.0]
    assert runner.model.bias.tolist() == [0.0]
    assert len(list(out.glob('*.png'))) == 2
    log, = (tmp_path / 'work').glob('*/*.log')
    assert '1 missing keys: bias' in log.read_text()
