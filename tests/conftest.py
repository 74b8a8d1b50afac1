"""Shared fixtures: tiny random-initialized open_clip models saved as files,
a reduced zero-shot demo run for the slow tests, and the guard that keeps
tests out of the repository's work_dirs/ and data/."""
import os
import subprocess
from types import SimpleNamespace

import pytest
import torch

from . import repo_guard

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


@pytest.fixture(scope='session', autouse=True)
def repo_outputs_untouched():
    """The whole run leaves work_dirs/ and data/ as it found them."""
    before = repo_guard.snapshot()
    yield before
    lines = repo_guard.changes(before, repo_guard.snapshot())
    if lines:
        pytest.fail('the test run: ' + repo_guard.report(lines),
                    pytrace=False)


@pytest.fixture(autouse=True)
def leaves_repo_outputs_alone(repo_outputs_untouched):
    """This test added, removed or renamed nothing in work_dirs/, data/ or
    a folder under them."""
    folders = [path for path, (is_dir, _, _) in repo_outputs_untouched.items()
               if is_dir]
    before = repo_guard.folder_stamps(folders)
    yield
    if repo_guard.folder_stamps(folders) != before:
        lines = repo_guard.changes(repo_outputs_untouched,
                                   repo_guard.snapshot())
        pytest.fail('this test: ' + repo_guard.report(lines), pytrace=False)


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


# tools/run_zero_shot_demo.sh shortened: one seed, shorter pretraining and
# training (about 2 minutes on 2 CPU cores)
ZERO_SHOT_REDUCED = dict(
    SEEDS='0',
    VARIANTS='paper random-clip',
    ITERS='300',
    PRETRAIN_ITERS='300',
    PRETRAIN_POOL='6000')


@pytest.fixture(scope='session')
def zero_shot_demo_run(tmp_path_factory):
    """A reduced run of ``tools/run_zero_shot_demo.sh`` in a temporary
    folder, made once for the slow tests that need its models (the
    open-vocabulary claim, the web page's default model).

    Returns:
        ``work_dir`` (runs under ``paper/seed0`` and ``random-clip/seed0``),
        ``data_root`` (the material world) and ``stdout`` of the script.
    """
    folder = tmp_path_factory.mktemp('zero_shot_demo')
    work_dir, data_root = folder / 'zero_shot', folder / 'material_world'
    env = dict(os.environ, DATA_ROOT=str(data_root), **ZERO_SHOT_REDUCED)
    result = subprocess.run(
        ['bash', 'tools/run_zero_shot_demo.sh',
         str(work_dir)],
        cwd=repo_guard.REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900)
    if result.returncode != 0:
        pytest.fail('tools/run_zero_shot_demo.sh failed:\n' +
                    result.stdout[-3000:] + result.stderr[-3000:])
    return SimpleNamespace(
        work_dir=work_dir, data_root=data_root, stdout=result.stdout)
