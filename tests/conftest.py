"""Shared fixtures: tiny random-initialized open_clip models saved as files."""
import pytest
import torch

TINY_CLIP_CFG = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, layers=4, width=64, patch_size=8,
                    head_width=16),
    text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=4,
                  layers=2),
)


@pytest.fixture(scope='session', autouse=True)
def mmseg_scope():
    """Build configs in mmseg's registries, as the Runner does."""
    from mmseg.utils import register_all_modules

    import mrovseg_mmseg  # noqa: F401
    register_all_modules(init_default_scope=True)


@pytest.fixture(scope='session')
def tiny_clip_cfg():
    """open_clip.CLIP kwargs of a 4-block ViT with 8-pixel patches."""
    return {key: dict(value) if isinstance(value, dict) else value
            for key, value in TINY_CLIP_CFG.items()}


@pytest.fixture(scope='session')
def tiny_clip_checkpoint(tmp_path_factory):
    """A seeded random tiny CLIP saved as a state-dict file."""
    import open_clip
    torch.manual_seed(0)
    model = open_clip.CLIP(**TINY_CLIP_CFG)
    path = tmp_path_factory.mktemp('clip') / 'tiny_clip.pt'
    torch.save(model.state_dict(), path)
    return str(path)


@pytest.fixture(scope='session')
def tiny_clip_reference(tiny_clip_checkpoint):
    """The same tiny CLIP loaded by open_clip itself (the oracle)."""
    import open_clip
    model = open_clip.CLIP(**TINY_CLIP_CFG)
    model.load_state_dict(torch.load(tiny_clip_checkpoint, weights_only=True))
    return model.eval()
