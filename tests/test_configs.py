"""Every config loads and builds its model offline; README names real configs."""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config
from mmseg.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(
    osp.relpath(path, REPO)
    for path in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                          recursive=True)
    if '_base_' not in path)


def load_offline(path: str) -> Config:
    """The config with CLIP weights off (random init, no download)."""
    cfg = Config.fromfile(osp.join(REPO, path))
    cfg.model.backbone.pretrained = None
    cfg.model.text_encoder.pretrained = None
    cfg.model.text_encoder.cache_dir = None
    return cfg


def distinct_models():
    seen, unique = set(), []
    for path in CONFIGS:
        key = repr(load_offline(path).model)
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


@pytest.mark.parametrize('path', CONFIGS)
def test_config_loads_with_complete_pipeline(path):
    cfg = load_offline(path)
    assert cfg.model.type == 'MROVSeg'
    for key in ('train_dataloader', 'test_dataloader', 'test_evaluator',
                'optim_wrapper', 'param_scheduler', 'custom_hooks'):
        assert key in cfg, f'{path} has no {key}'
    hooks = {hook['type'] for hook in cfg.custom_hooks}
    assert {'VocabularyHook', 'SafeCheckpointHook'} <= hooks
    evaluators = cfg.test_evaluator
    if not isinstance(evaluators, list):
        evaluators = [evaluators]
    pixel_metrics = [ev for ev in evaluators if ev.type.endswith('IoUMetric')]
    assert pixel_metrics, f'{path}: no IoU metric among its evaluators'
    for evaluator in pixel_metrics:
        ignore = evaluator.get('ignore_index', 255)
        assert cfg.model.decode_head.get('ignore_index', 255) == ignore, (
            f'{path}: head and metric disagree on the ignore index')


@pytest.mark.parametrize('path', [
    'configs/mrovseg_tiny_shapes64.py', 'configs/mrovseg_vitb_coco640.py'
])
def test_main_configs_build(path):
    model = MODELS.build(load_offline(path).model)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) > 0


@pytest.mark.slow
@pytest.mark.parametrize('path', distinct_models())
def test_every_distinct_model_builds(path):
    MODELS.build(load_offline(path).model)


def test_readme_names_only_existing_configs():
    readme = open(osp.join(REPO, 'README.md')).read()
    named = set(re.findall(r'configs/[\w./-]+\.py', readme))
    assert named, 'README names no config'
    missing = [name for name in named if not osp.isfile(osp.join(REPO, name))]
    assert not missing, f'README names missing configs: {missing}'


ZERO_SHOT = sorted(
    osp.splitext(osp.basename(path))[0]
    for path in glob.glob(osp.join(REPO, 'configs', '_base_', 'zero_shot',
                                   '*.py')))


def without_delete(value):
    """A config value as plain data, ``_delete_`` markers dropped."""
    if isinstance(value, dict):
        return {key: without_delete(item) for key, item in value.items()
                if key != '_delete_'}
    if isinstance(value, (list, tuple)):
        return [without_delete(item) for item in value]
    return value


@pytest.mark.parametrize('name', ZERO_SHOT)
def test_zero_shot_data_is_the_dataset_configs_test_data(name):
    """_base_/zero_shot/X.py restates the test part of _base_/datasets/X.py
    (mmengine cannot inherit only some keys of a base); they must agree."""
    zero_shot = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'zero_shot', f'{name}.py'))
    dataset = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'datasets', f'{name}.py'))
    assert without_delete(zero_shot.zero_shot_dataloader.to_dict()) == \
        without_delete(dataset.test_dataloader.to_dict())
    assert without_delete(zero_shot.zero_shot_evaluator.to_dict()) == \
        without_delete(dataset.test_evaluator.to_dict())
    assert zero_shot.zero_shot_ignore_index == dataset.ignore_index
