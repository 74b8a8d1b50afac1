"""docs/custom_dataset.md, run as written.

The guide marks what it shows: ``<!-- file: <path> -->`` before a file's
text, ``<!-- run -->`` before commands to run, ``<!-- check -->`` before
commands that need CLIP weights and GPUs. The slow test makes a project
folder in tmp whose ``configs`` and ``tools`` link to the repository's,
generates images and label maps under ``data/my_dataset``, writes the
guide's data files there, compares the guide's configs with the shipped
ones, and runs each ``run`` block with bash in that folder, in the guide's
order, exactly as printed (the environment's python first on PATH, as
after ``source .venv/bin/activate``). A ``check`` block is not run: its
configs and tools must exist, its options must be those the run blocks use,
and its configs' datasets, with its ``--cfg-options``, must build on the
generated folder. Nothing is written under the repository.
"""
import argparse
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config, DictAction
from mmseg.registry import DATASETS
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / 'docs' / 'custom_dataset.md'
VENV_BIN = REPO / '.venv' / 'bin'
MARKED = re.compile(
    r'^<!-- (run|check|file: (\S+)) -->\n```(\w+)\n(.*?)^```$', re.M | re.S)
FENCE = re.compile(r'^```(\w*)\n(.*?)^```$', re.M | re.S)
TINY = 'configs/custom/my_dataset_tiny.py'
VITB = 'configs/custom/my_dataset_vitb.py'
NUM_TRAIN, NUM_VAL = 12, 3


def guide_blocks(text):
    """(kind, path, language, body) of each marked block, in order; kind is
    'run', 'check' or 'file'."""
    blocks = []
    for match in MARKED.finditer(text):
        kind = 'file' if match.group(2) else match.group(1)
        blocks.append((kind, match.group(2), match.group(3), match.group(4)))
    return blocks


def commands(body):
    """The token lists of a bash block, continuations joined."""
    return [shlex.split(line, comments=True)
            for line in body.replace('\\\n', ' ').splitlines()
            if shlex.split(line, comments=True)]


def code_lines(path):
    return [line for line in path.read_text().splitlines()
            if not line.startswith('#')]


def test_guide_matches_the_repository():
    """Every bash block is marked, the configs shown are the shipped ones,
    and the tiny config is the ViT-B one on the base the guide names."""
    text = GUIDE.read_text()
    blocks = guide_blocks(text)
    marked_bash = [body for kind, _, lang, body in blocks if lang == 'bash']
    all_bash = [body for lang, body in FENCE.findall(text) if lang == 'bash']
    assert all_bash == marked_bash, 'a bash block without run/check marker'
    assert [kind for kind, *_ in blocks].count('run') == 3
    shown = {path: body for kind, path, _, body in blocks if kind == 'file'}
    assert shown[VITB] == (REPO / VITB).read_text()
    tiny_base = re.search(r"```python\n(_base_ = .*)\n```", text).group(1)
    assert code_lines(REPO / TINY) == [
        tiny_base if line.startswith('_base_') else line
        for line in code_lines(REPO / VITB)]


def generate_folder(root: Path, num_classes: int) -> None:
    """Images whose regions (sky band, road band, two boxes) have one colour
    per class, and their label maps, some pixels unlabelled (255)."""
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256, (num_classes, 3))
    for split, count in (('train', NUM_TRAIN), ('val', NUM_VAL)):
        (root / 'images' / split).mkdir(parents=True)
        (root / 'labels' / split).mkdir(parents=True)
        for index in range(count):
            height, width = rng.integers(40, 72, 2)
            labels = np.zeros((height, width), np.uint8)
            labels[height // 2:] = 2 % num_classes
            for class_id in (1, 3):
                top, left = rng.integers(0, height // 2), rng.integers(
                    0, width // 2)
                labels[top:top + height // 3,
                       left:left + width // 3] = class_id % num_classes
            image = colours[labels] + rng.normal(0, 12, (height, width, 3))
            labels[0, :4] = 255
            name = f'{split}_{index:02d}'
            Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(
                root / 'images' / split / f'{name}.jpg')
            Image.fromarray(labels).save(
                root / 'labels' / split / f'{name}.png')


def environment():
    """As after ``source .venv/bin/activate``: its python first on PATH."""
    env = {key: value for key, value in os.environ.items()
           if key not in ('PYTHONPATH', 'PYTHONHOME', 'MROVSEG_VENV')}
    env.update(PATH=f'{VENV_BIN}{os.pathsep}{env.get("PATH", "")}',
               VIRTUAL_ENV=str(VENV_BIN.parent), OMP_NUM_THREADS='1',
               HF_HUB_OFFLINE='1', PYTHONDONTWRITEBYTECODE='1')
    return env


def run(body: str, project: Path) -> str:
    result = subprocess.run(['bash', '-ec', body], cwd=project,
                            env=environment(), capture_output=True,
                            text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f'{body}\n{output[-4000:]}'
    return output


def cfg_options(tokens):
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    known, _ = parser.parse_known_args(tokens)
    return known.cfg_options or {}


def check(body: str, run_options: dict) -> None:
    """The ViT-B commands: files exist, options are the tried ones, and
    the datasets they name build here."""
    for tokens in commands(body):
        tool = next(t for t in tokens if t.startswith('tools/'))
        assert (Path.cwd() / tool).is_file(), tool
        script = 'tools/train.py' if tool.endswith('dist_train.sh') else tool
        used = {t for t in tokens if t.startswith('--')}
        assert used <= run_options.get(script, set()), (
            f'{tool}: {used} not tried in a run block')
        for config in [t for t in tokens if t.startswith('configs/')]:
            cfg = Config.fromfile(config)
            cfg.merge_from_dict(cfg_options(tokens))
            for split in ('train', 'test'):
                dataset = DATASETS.build(cfg[f'{split}_dataloader'].dataset)
                assert dataset[0]['inputs'].shape[0] == 3


@pytest.mark.slow
def test_guide_runs_as_written(tmp_path, monkeypatch):
    if not (VENV_BIN / 'python').is_file():
        pytest.skip('the guide runs in ./.venv (bash tools/setup_env.sh)')
    project = tmp_path / 'project'
    project.mkdir()
    for name in ('configs', 'tools'):
        (project / name).symlink_to(REPO / name)
    monkeypatch.chdir(project)
    blocks = guide_blocks(GUIDE.read_text())
    classes = next(body for kind, path, _, body in blocks
                   if path == 'data/my_dataset/classes.txt')
    generate_folder(project / 'data' / 'my_dataset', len(classes.splitlines()))
    outputs, run_options, timings = [], {}, []
    for kind, path, _, body in blocks:
        if kind == 'file' and path.startswith('configs/'):
            assert (project / path).read_text() == body
        elif kind == 'file':
            (project / path).write_text(body)
        elif kind == 'run':
            start = time.time()
            outputs.append(run(body, project))
            timings.append(f'{time.time() - start:.0f} s')
            for tokens in commands(body):
                run_options.setdefault(tokens[1], set()).update(
                    t for t in tokens if t.startswith('--'))
        else:
            check(body, run_options)
    print('run blocks:', ', '.join(timings))
    train, test, infer = outputs
    assert 'mIoU' in train
    assert (project / 'work_dirs/my_dataset_tiny/iter_20.pth').is_file()
    other_names = next(body for kind, path, _, body in blocks
                       if path == 'data/my_dataset/other_names.txt')
    table = re.findall(r'^\|\s*(.+?)\s*\|', test, re.M)
    assert set(other_names.splitlines()) <= set(table), test[-3000:]
    assert f'{NUM_VAL} of {NUM_VAL} inputs written' in infer
    written = sorted(p.stem for p in (
        project / 'work_dirs/my_dataset_infer/labels').iterdir())
    assert written == [f'val_{i:02d}' for i in range(NUM_VAL)]
