"""Config variants change only what they say: ablation rows against the
ablated baseline, and the 1024 px ViT-B/ViT-L pair of Fig. 6."""
import glob
import os.path as osp

import open_clip
import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
BASELINE = 'configs/mrovseg_vitb_coco640.py'
ABLATIONS = sorted(
    osp.relpath(path, REPO)
    for path in glob.glob(osp.join(REPO, 'configs', 'ablations', '*.py')))

# ablation file -> the config keys its paper row changes
ROW_KEYS = {
    # Table 2
    'abl-t2-baseline': {
        'model.backbone.slice_ratio', 'model.decode_head.hierarchical',
        'model.decode_head.use_local_tokens'
    },
    'abl-t2-multi-res-adapter': {
        'model.decode_head.hierarchical', 'model.decode_head.use_local_tokens'
    },
    'abl-t2-hier-dec': {'model.decode_head.use_local_tokens'},
    # Table 3
    'abl-p0': {'model.backbone.slice_ratio'},
    'abl-p0.25': {'model.backbone.slice_ratio'},
    'abl-p0.625': {'model.backbone.slice_ratio'},
    'abl-p0.75': {'model.backbone.slice_ratio'},
    'abl-p1.0': {'model.backbone.slice_ratio'},
    # Table 4a, 4b
    'abl-spatial-concat': {'model.neck.spatial_fusion'},
    'abl-mrf-add': {'model.neck.scale_fusion'},
    'abl-mrf-concat': {'model.neck.scale_fusion'},
    # Table 4c; 3 blocks cannot take 5 fusion layers (see the config)
    'abl-blocks3': {'model.neck.num_blocks', 'model.neck.fusion_layers'},
    'abl-blocks9': {'model.neck.num_blocks'},
    # Table 4d
    'abl-fusion-3-6-9': {'model.neck.fusion_layers'},
    'abl-fusion-3-6-9-12': {'model.neck.fusion_layers'},
    'abl-fusion-stem-3-6-9': {'model.neck.fusion_layers'},
    # Table 4e; 1024 is not divisible by 12 heads
    'abl-width384': {'model.neck.embed_dims', 'model.decode_head.embed_dims'},
    'abl-width1024': {
        'model.neck.embed_dims', 'model.neck.num_heads',
        'model.decode_head.embed_dims'
    },
    # Table 4f: adapter and head hold the same N
    'abl-queries200': {
        'model.neck.num_queries', 'model.decode_head.num_queries'
    },
    'abl-queries300': {
        'model.neck.num_queries', 'model.decode_head.num_queries'
    },
    # Fig. 7
    'abl-single-attn-mask': {'model.decode_head.decoupled_attn_masks'},
}


def row_name(path: str) -> str:
    return osp.splitext(osp.basename(path))[0].split('_')[-1]


def flatten(value, prefix: str = '') -> dict:
    """Leaf key paths of a config: dict keys joined by dots, list items of
    dicts (pipelines) by index; other lists and tuples are leaves."""
    if isinstance(value, dict):
        items = [(f'{prefix}.{key}' if prefix else key, item)
                 for key, item in value.items()]
    elif isinstance(value, (list, tuple)) and any(
            isinstance(item, dict) for item in value):
        items = [(f'{prefix}[{index}]', item)
                 for index, item in enumerate(value)]
    else:
        return {prefix: value}
    leaves = {}
    for path, item in items:
        leaves.update(flatten(item, path))
    return leaves


def changed_keys(path: str, parent: str) -> set:
    child = flatten(Config.fromfile(osp.join(REPO, path)).to_dict())
    base = flatten(Config.fromfile(osp.join(REPO, parent)).to_dict())
    return {
        key for key in set(child) | set(base)
        if key not in child or key not in base or child[key] != base[key]
    }


def test_every_ablation_has_its_row():
    assert sorted(map(row_name, ABLATIONS)) == sorted(ROW_KEYS)


@pytest.mark.parametrize('path', ABLATIONS)
def test_ablation_changes_only_its_row(path):
    assert changed_keys(path, BASELINE) == ROW_KEYS[row_name(path)]


def slice_side(backbone: dict) -> tuple:
    """(window, side in CLIP, patch) of the slices, in pixels, as
    ``MultiResCLIPViT`` documents ``slice_input_size``."""
    patch = open_clip.get_model_config(
        backbone['model_name'])['vision_cfg']['patch_size']
    window = backbone['slice_ratio'] * backbone['base_size']
    side = backbone.get('slice_input_size')
    if side is None:
        side = max(1, round(window / patch)) * patch
    return window, side, patch


@pytest.mark.parametrize('vitb,vitl', [
    ('mrovseg_vitb_coco1024.py', 'mrovseg_vitl_coco1024.py'),
    ('mrovseg_vitb_coco1024_eval_cityscapes.py',
     'mrovseg_vitl_coco1024_eval_cityscapes.py'),
])
def test_1024_backbones_see_slices_at_one_resolution(vitb, vitl):
    """Fig. 6 scales the backbone: ViT-L must not see smaller slices."""
    b_cfg = Config.fromfile(osp.join(REPO, 'configs', vitb)).model.backbone
    l_cfg = Config.fromfile(osp.join(REPO, 'configs', vitl)).model.backbone
    assert (b_cfg.slice_ratio, b_cfg.base_size) == (l_cfg.slice_ratio,
                                                    l_cfg.base_size)
    b_window, b_side, _ = slice_side(b_cfg)
    l_window, l_side, l_patch = slice_side(l_cfg)
    # ViT-L's slice side is ViT-B's scale of the same window, within a patch
    assert abs(l_side - l_window * b_side / b_window) <= l_patch
