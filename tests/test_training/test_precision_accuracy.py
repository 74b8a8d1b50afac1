"""bf16 against fp32 on the same checkpoint, through tools/test.py, on the
shapes demo and the zero-shot demo's paper model, both trained here by their
scripts. Setup, endpoints and bounds were committed before the first run:
docs/precision.md."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
# bounds fixed before the first run (docs/precision.md)
MIN_AGREEMENT = 0.99
MAX_MIOU_DELTA = 0.3
ENV = dict(os.environ, OMP_NUM_THREADS='1')


def run(command, **kwargs) -> float:
    """Run ``command`` in the repository; its wall time in seconds."""
    start = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, capture_output=True,
                            text=True, timeout=3600, **kwargs)
    seconds = time.perf_counter() - start
    assert result.returncode == 0, (result.stdout[-3000:] +
                                    result.stderr[-3000:])
    return seconds


def train_shapes_demo(tmp_path: Path):
    """(config, checkpoint, test options) of ``tools/run_demo.sh``."""
    work_dir = tmp_path / 'demo'
    root = tmp_path / 'synthetic_shapes'
    options = [f'{loader}.dataset.data_root={root}'
               for loader in ('train_dataloader', 'val_dataloader',
                              'test_dataloader')]
    run(['bash', 'tools/run_demo.sh', str(work_dir), '--cfg-options',
         *options], env=ENV)
    checkpoint = (work_dir / 'last_checkpoint').read_text().strip()
    return 'configs/mrovseg_tiny_shapes64.py', checkpoint, options


def train_zero_shot_demo(tmp_path: Path):
    """(config, checkpoint, test options) of the paper model, seed 0, of
    ``tools/run_zero_shot_demo.sh`` at its default settings."""
    work_dir = tmp_path / 'zero_shot'
    root = tmp_path / 'material_world'
    run(['bash', 'tools/run_zero_shot_demo.sh', str(work_dir)],
        env=dict(ENV, SEEDS='0', VARIANTS='paper', DATA_ROOT=str(root)))
    clip = work_dir / 'clip' / 'tiny_clip_materials.pth'
    checkpoint = (work_dir / 'paper' / 'seed0' /
                  'last_checkpoint').read_text().strip()
    options = [
        f'model.backbone.pretrained={clip}',
        f'model.text_encoder.pretrained={clip}',
        f'test_dataloader.dataset.data_root={root}'
    ]
    return ('configs/zero_shot_demo/mrovseg_tiny_materials64.py', checkpoint,
            options)


def evaluate_at(precision: str, config: str, checkpoint: str, options,
                folder: Path):
    """(report, label map folder, seconds) of one tools/test.py run."""
    work_dir = folder / precision
    labels = work_dir / 'labels'
    seconds = run([
        sys.executable, 'tools/test.py', config, checkpoint, '--work-dir',
        str(work_dir), '--precision', precision, '--out',
        str(labels), '--cfg-options', *options
    ], env=ENV)
    report, = work_dir.glob('*/report.json')
    return json.loads(report.read_text()), labels, seconds


def agreement(first: Path, second: Path):
    """(pooled pixel agreement, lowest per-image agreement, images)."""
    names = sorted(path.name for path in first.glob('*.png'))
    assert names == sorted(path.name for path in second.glob('*.png'))
    assert names
    equal = total = 0
    lowest = 1.0
    for name in names:
        a = np.asarray(Image.open(first / name))
        b = np.asarray(Image.open(second / name))
        assert a.shape == b.shape
        same = int((a == b).sum())
        equal += same
        total += a.size
        lowest = min(lowest, same / a.size)
    return equal / total, lowest, len(names)


@pytest.mark.slow
@pytest.mark.measurement
@pytest.mark.parametrize('demo', ['shapes', 'zero-shot'])
def test_bf16_predicts_as_fp32_on_the_trained_demos(tmp_path, demo):
    start = time.perf_counter()
    train = train_shapes_demo if demo == 'shapes' else train_zero_shot_demo
    config, checkpoint, options = train(tmp_path)
    training = time.perf_counter() - start
    runs = {
        precision: evaluate_at(precision, config, checkpoint, options,
                               tmp_path)
        for precision in ('fp32', 'bf16')
    }
    pooled, lowest, images = agreement(runs['fp32'][1], runs['bf16'][1])
    metrics = {precision: runs[precision][0]['metrics']
               for precision in runs}
    delta = metrics['bf16']['mIoU'] - metrics['fp32']['mIoU']
    summary = dict(
        demo=demo,
        images=images,
        agreement=pooled,
        lowest_image_agreement=lowest,
        mIoU_delta=delta,
        metrics=metrics,
        test_seconds={precision: round(runs[precision][2], 1)
                      for precision in runs},
        training_seconds=round(training, 1))
    print('precision accuracy:', json.dumps(summary))
    assert [runs[p][0]['precision'] for p in runs] == ['fp32', 'bf16']
    assert pooled >= MIN_AGREEMENT, summary
    assert abs(delta) <= MAX_MIOU_DELTA, summary
