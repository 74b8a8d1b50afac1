"""get_flops counts the real forward of the model."""
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools', 'analysis_tools'))

from get_flops import build_model, count_flops  # noqa: E402


def test_flops_grow_with_the_slice_grid():
    cfg = Config.fromfile(osp.join(REPO, 'configs',
                                   'mrovseg_tiny_shapes64.py'))
    model = build_model(cfg)
    small = count_flops(model, (64, 64))
    large = count_flops(model, (128, 128))
    assert small['flops'] > 0
    assert all(v > 0 for v in small['by_module'].values())
    # 4 slices + global view at 64 px, 16 slices + global view at 128 px
    assert large['by_module']['MROVSeg.backbone'] > 3 * small['by_module'][
        'MROVSeg.backbone']


@pytest.mark.slow
def test_command_line_prints_gflops():
    out = subprocess.run(
        [sys.executable, 'tools/analysis_tools/get_flops.py',
         'configs/mrovseg_tiny_shapes64.py', '--shape', '64', '64'],
        cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert 'GFLOP total' in out and 'backbone' in out


def test_cpu_attention_formula():
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    from mrovseg_mmseg.utils.flop_formulas import ATTENTION_FORMULAS
    q, k, v = (torch.randn(2, 3, 5, 4) for _ in range(3))
    counter = FlopCounterMode(display=False, custom_mapping=ATTENTION_FORMULAS)
    with counter:
        F.scaled_dot_product_attention(q, k, v)
    assert counter.get_total_flops() == 2 * 2 * 3 * 5 * 5 * (4 + 4)


def test_model_count_includes_cpu_attention():
    """torch's own counter sees no CPU attention; get_flops adds it."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    cfg = Config.fromfile(osp.join(REPO, 'configs',
                                   'mrovseg_tiny_shapes64.py'))
    model = build_model(cfg)
    counted = count_flops(model, (64, 64))['flops']
    plain = FlopCounterMode(display=False)
    with torch.no_grad(), plain:
        model(torch.randn(1, 3, 64, 64), mode='tensor')
    assert counted > plain.get_total_flops() > 0
