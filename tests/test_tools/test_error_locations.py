"""Messages that send the user to a place name the place; the launch scripts
pick the project's environment."""
import glob
import os
import os.path as osp
import re
import subprocess

import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


# --- CLIP weights that cannot be downloaded ------------------------------

@pytest.fixture
def offline(monkeypatch):
    import open_clip

    def fail(*args, **kwargs):
        raise OSError('network is unreachable')

    monkeypatch.setattr(open_clip, 'create_model', fail)
    return open_clip


def weights_error(**kwargs):
    from mrovseg_mmseg.models.utils.open_clip_loader import build_open_clip
    with pytest.raises(RuntimeError) as info:
        build_open_clip(model_name='ViT-B-16', pretrained='openai', **kwargs)
    return str(info.value)


def test_weights_message_names_the_hugging_face_cache(offline, monkeypatch,
                                                      tmp_path):
    import open_clip
    import huggingface_hub.constants
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_CACHE',
                        str(tmp_path / 'hub'))
    message = weights_error()
    assert '(OSError: network is unreachable)' in message
    url = open_clip.get_pretrained_url('ViT-B-16', 'openai')
    assert url.startswith('https://') and f'on another machine ({url})' in (
        message)
    assert 'pretrained="/path/to/checkpoint"' in message
    folder = (tmp_path / 'hub' /
              'models--timm--vit_base_patch16_clip_224.openai')
    assert (f'copy the folder {folder} (Hugging Face repository '
            'timm/vit_base_patch16_clip_224.openai, '
            'open_clip_model.safetensors or open_clip_pytorch_model.bin) '
            'from a machine where the download worked') in message
    assert '(the folder above it is set by HF_HUB_CACHE or HF_HOME).' in (
        message)
    assert 'cache_dir=None' not in message
    message = weights_error(cache_dir=str(tmp_path / 'mine'))
    assert str(tmp_path / 'mine' /
               'models--timm--vit_base_patch16_clip_224.openai') in message
    assert 'clip_cache_dir' in message


def test_weights_message_names_the_quick_gelu_architecture(offline):
    from mrovseg_mmseg.models.utils.open_clip_loader import build_open_clip
    for name in ('ViT-B-16', 'ViT-B-16-quickgelu'):
        with pytest.raises(RuntimeError, match=re.escape(
                "(for OpenAI weights use model_name='ViT-B-16-quickgelu')")):
            build_open_clip(model_name=name, pretrained='openai')


def test_weights_message_names_open_clips_download_folder(offline,
                                                           monkeypatch):
    import open_clip.pretrained
    monkeypatch.setattr(open_clip.pretrained, '_has_hf_hub', False)
    message = weights_error()
    assert 'put the downloaded ViT-B-16.pt in ' + osp.expanduser(
        '~/.cache/clip') in message
    assert 'put the downloaded ViT-B-16.pt in /x/y' in weights_error(
        cache_dir='/x/y')


# --- dataset folders ------------------------------------------------------

CONFIGS = sorted(
    path for path in glob.glob(osp.join(REPO, 'configs', '*.py'))
    if 'tiny' not in osp.basename(path))


@pytest.mark.parametrize('config', CONFIGS, ids=osp.basename)
def test_missing_data_folder_names_it_and_how_to_fill_it(
        config, tmp_path, monkeypatch):
    from mmseg.registry import DATASETS
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(config)
    for loader in ('train_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        with pytest.raises(FileNotFoundError) as info:
            DATASETS.build(dataset)
        message = str(info.value)
        assert f'data_root={dataset.data_root!r}' in message
        assert str(tmp_path / dataset.data_root) in message
        assert 'tools/dataset_converters/' in message
        assert 'docs/datasets.md' in message


# --- the launch scripts' interpreter ---------------------------------------

def fake_python(folder):
    """A 'python' that passes the import check and echoes what it runs."""
    path = folder / 'bin' / 'python'
    path.parent.mkdir(parents=True)
    path.write_text('#!/bin/sh\n[ "$1" = -c ] && exit 0\necho "RAN $0 $*"\n')
    path.chmod(0o755)
    return path


def launch(tmp_path, script, args, **env):
    base = {key: value for key, value in os.environ.items()
            if key not in ('PYTHON', 'MROVSEG_VENV', 'VIRTUAL_ENV')}
    base.update(env)
    return subprocess.run(['bash', osp.join(REPO, 'tools', script)] + args,
                          env=base, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)


@pytest.mark.parametrize('script, args', [
    ('dist_train.sh', ['c.py', '1']),
    ('dist_test.sh', ['c.py', 'k.pth', '1']),
])
def test_dist_scripts_use_the_environment_unless_python_is_given(
        tmp_path, script, args):
    venv = fake_python(tmp_path / 'venv')
    result = launch(tmp_path, script, args, MROVSEG_VENV=str(tmp_path / 'venv'))
    assert result.stdout.startswith(f'RAN {venv} -m torch.distributed.run')
    other = fake_python(tmp_path / 'other')
    result = launch(tmp_path, script, args, MROVSEG_VENV=str(tmp_path / 'venv'),
                    PYTHON=str(other))
    assert result.stdout.startswith(f'RAN {other} -m torch.distributed.run')


@pytest.mark.parametrize('script, args', [
    ('slurm_train.sh', ['p', 'j', 'c.py']),
    ('slurm_test.sh', ['p', 'j', 'c.py', 'k.pth']),
])
def test_slurm_scripts_use_the_environment(tmp_path, script, args):
    venv = fake_python(tmp_path / 'venv')
    srun = tmp_path / 'bin' / 'srun'
    srun.parent.mkdir()
    srun.write_text('#!/bin/sh\necho "SRUN $*"\n')
    srun.chmod(0o755)
    result = launch(tmp_path, script, args, MROVSEG_VENV=str(venv.parents[1]),
                    PATH=f'{srun.parent}:{os.environ["PATH"]}')
    assert f' {venv} -u ' in result.stdout, result.stdout + result.stderr


def test_an_environment_without_torch_says_how_to_set_one_up(tmp_path):
    broken = tmp_path / 'py'
    broken.write_text('#!/bin/sh\nexit 1\n')
    broken.chmod(0o755)
    result = launch(tmp_path, 'dist_train.sh', ['c.py', '1'],
                    PYTHON=str(broken))
    assert result.returncode == 1
    assert f'{broken} cannot import torch and mmseg' in result.stderr
    assert 'bash tools/setup_env.sh' in result.stderr
