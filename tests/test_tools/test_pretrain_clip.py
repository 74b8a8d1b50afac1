"""CLIP pretraining on the material world: the checkpoint loads through
MROVSeg's ``pretrained='file'`` path with the trained weights, a killed run
resumes to the same weights, and the tool keeps an existing checkpoint."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mrovseg_mmseg.engine import clip_pretraining
from mrovseg_mmseg.engine.clip_pretraining import pretrain_clip
from mrovseg_mmseg.models.utils.open_clip_loader import build_open_clip

REPO = Path(__file__).resolve().parents[2]
TINY = dict(
    embed_dim=16,
    vision_cfg=dict(image_size=16, layers=1, width=32, patch_size=8,
                    head_width=16),
    text_cfg=dict(context_length=16, vocab_size=49408, width=16, heads=2,
                  layers=1))
SETTINGS = dict(iters=4, batch_size=8, pool_size=32, warmup=2, seed=5,
                save_interval=2, log=lambda _: None)


def _weights(state_dict):
    return {key: value.clone() for key, value in state_dict.items()}


def test_checkpoint_loads_as_the_trained_clip(tmp_path):
    out = tmp_path / 'clip.pth'
    checkpoint = pretrain_clip(TINY, str(out), **SETTINGS)
    assert set(checkpoint['zero_shot_accuracy']) >= {'grass', 'water'}
    untrained = build_open_clip(model_cfg=TINY, pretrained=None)
    loaded = build_open_clip(model_cfg=TINY, pretrained=str(out))
    changed = 0
    for key, value in loaded.state_dict().items():
        torch.testing.assert_close(value, checkpoint['state_dict'][key],
                                   rtol=0, atol=0)
        changed += not torch.equal(value, untrained.state_dict()[key])
    assert changed > len(checkpoint['state_dict']) // 2
    assert not (tmp_path / 'clip.pth.resume').exists()


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    whole = pretrain_clip(TINY, str(tmp_path / 'whole.pth'), **SETTINGS)
    out = tmp_path / 'killed.pth'

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    # the run dies after its last step, before the final save: the resume
    # state of step 2 is all that is left
    monkeypatch.setattr(clip_pretraining, 'zero_shot_accuracy', killed)
    with pytest.raises(KeyboardInterrupt):
        pretrain_clip(TINY, str(out), **SETTINGS)
    assert not out.exists()
    state = torch.load(f'{out}.resume', weights_only=True)
    assert state['step'] == 2
    monkeypatch.undo()
    resumed = pretrain_clip(TINY, str(out), **SETTINGS)
    for key, value in whole['state_dict'].items():
        torch.testing.assert_close(resumed['state_dict'][key], value,
                                   rtol=0, atol=0)
    other = dict(SETTINGS, seed=6)
    torch.save(dict(state, settings=dict(state['settings'], seed=6)),
               f'{out}.resume')
    with pytest.raises(ValueError, match='killed.pth.resume'):
        pretrain_clip(TINY, str(out), **dict(other, seed=5))


@pytest.mark.slow
def test_tool_keeps_an_existing_checkpoint(tmp_path):
    out = tmp_path / 'clip.pth'
    out.write_bytes(b'existing')
    config = REPO / 'configs/zero_shot_demo/mrovseg_tiny_materials64.py'
    result = subprocess.run(
        [sys.executable, 'tools/pretrain_clip.py', str(config), '--out',
         str(out)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'keeping it' in result.stdout
    assert out.read_bytes() == b'existing'


def test_probe_views_show_their_material():
    views, labels = clip_pretraining.material_probe(16, 4, seed=0)
    assert views.shape == (12 * 4, 16, 16, 3)
    means = views.reshape(12, 4, -1, 3).mean(axis=(1, 2))
    from mrovseg_mmseg.datasets.material_world import MATERIAL_PALETTE
    nearest = [
        int(np.argmin(((np.asarray(MATERIAL_PALETTE) - mean)**2).sum(1)))
        for mean in means
    ]
    assert nearest == list(range(12))
    assert list(labels[::4]) == list(range(12))


def test_twin_world_pairs_come_from_its_pretraining_stream(tmp_path):
    from mrovseg_mmseg.datasets.detail_twin_world import (
        TWIN_CLASSES, twin_caption_pair, world_streams)
    views, captions = clip_pretraining.make_pairs(3, 32, 11, world='twins')
    rng = np.random.default_rng(world_streams(11)['pretrain'])
    for view, text in zip(views, captions):
        expected_view, expected_text = twin_caption_pair(rng, 32)
        np.testing.assert_array_equal(view, expected_view)
        assert text == expected_text
    checkpoint = pretrain_clip(
        dict(TINY, vision_cfg=dict(TINY['vision_cfg'], image_size=32)),
        str(tmp_path / 'clip.pth'), **dict(SETTINGS, save_interval=10),
        world='twins', world_seed=11)
    assert list(checkpoint['zero_shot_accuracy']) == list(TWIN_CLASSES)
    assert checkpoint['settings']['world_seed'] == 11
    with pytest.raises(ValueError, match="world='shapes'"):
        pretrain_clip(TINY, str(tmp_path / 'other.pth'), **SETTINGS,
                      world='shapes')


def test_resume_state_of_another_world_version_is_refused(tmp_path):
    cfg = dict(TINY, vision_cfg=dict(TINY['vision_cfg'], image_size=32))
    settings = dict(SETTINGS, iters=2, save_interval=1)
    from mrovseg_mmseg.datasets.detail_twin_world import WORLD_VERSION
    import open_clip
    out = tmp_path / 'clip.pth'
    expected = dict(iters=2, batch_size=8, lr=2e-3, weight_decay=0.1,
                    warmup=2, pool_size=32, seed=5, world='twins',
                    world_seed=5, world_version=WORLD_VERSION)
    model = open_clip.CLIP(**cfg)
    optimizer = torch.optim.AdamW(model.parameters())
    state = dict(state_dict=model.state_dict(),
                 optimizer=optimizer.state_dict(), step=1, model_cfg=cfg)
    torch.save(dict(state, settings=dict(expected, world_version='v0')),
               f'{out}.resume')
    with pytest.raises(ValueError, match='clip.pth.resume'):
        pretrain_clip(cfg, str(out), **settings, world='twins')
    torch.save(dict(state, settings=expected), f'{out}.resume')
    resumed = pretrain_clip(cfg, str(out), **settings, world='twins')
    assert resumed['settings'] == expected
