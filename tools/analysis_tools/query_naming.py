"""Found versus named: small and thin detail twins through each trained
model's own mask proposals (``mrovseg_mmseg.evaluation.query_naming``).

For every run of the resolution claim (``WORK_DIR/<variant>/seed<k>/``) the
trained model is loaded from its last checkpoint and run on the held-out
scenes; an object is *found* when some query's mask covers it with IoU
>= 0.5, and a found object is *named in its pair* when that query scores its
class above its twin::

    python tools/analysis_tools/query_naming.py work_dirs/resolution_claim
"""
import argparse
import json
import os.path as osp
import sys

import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules
from PIL import Image

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from zero_shot_table import seed_dirs  # noqa: E402

from mrovseg_mmseg.datasets.detail_twin_world import (  # noqa: E402
    DETAIL_TWIN_CLASSES, TWIN_CLASSES, TWIN_OF)
from mrovseg_mmseg.evaluation.query_naming import query_naming  # noqa: E402

CONFIG = 'configs/resolution_claim/mrovseg_tiny_twins64{}.py'
VARIANTS = ('paper', 'global-attn', 'p0')


def held_out_scenes(data_root, mean, std, count):
    """(normalized input, instance map, objects) of the first ``count``
    held-out scenes on disk."""
    for index in range(count):
        name = f'{index:05d}'
        image = np.array(Image.open(f"{data_root}/images/val/{name}.png"))
        instances = np.asarray(
            Image.open(f'{data_root}/instances/val/{name}.png'))
        with open(f'{data_root}/objects/val/{name}.json') as handle:
            objects = json.load(handle)
        # (H, W, 3) RGB -> (1, 3, H, W)
        pixels = torch.from_numpy(image).permute(2, 0, 1)[None].float()
        yield (pixels - mean) / std, instances, objects


def evaluate_run(variant, run_dir, clip, data_root, count):
    config = CONFIG.format('' if variant == 'paper' else f'_{variant}')
    cfg = Config.fromfile(config)
    cfg.model.backbone.pretrained = clip
    cfg.model.text_encoder.pretrained = clip
    model = MODELS.build(cfg.model)
    with open(osp.join(run_dir, 'last_checkpoint')) as handle:
        load_checkpoint(model, handle.read().strip(), map_location='cpu',
                        logger='silent')
    model.eval()
    model.set_vocabulary(TWIN_CLASSES)
    preprocessor = cfg.model.data_preprocessor
    mean = torch.tensor(preprocessor.mean).view(1, 3, 1, 1)
    std = torch.tensor(preprocessor.std).view(1, 3, 1, 1)
    return query_naming(model, held_out_scenes(data_root, mean, std, count),
                        TWIN_CLASSES, TWIN_OF, keep=DETAIL_TWIN_CLASSES)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dir')
    parser.add_argument('--clip', help='the frozen CLIP (default: '
                        'WORK_DIR/clip/tiny_clip_twins.pth)')
    parser.add_argument('--data-root', default='data/detail_twin_world')
    parser.add_argument('--num-scenes', type=int, default=100)
    parser.add_argument('--json', help='also write the results here')
    args = parser.parse_args(argv)
    register_all_modules()
    torch.set_num_threads(1)
    clip = args.clip or osp.join(args.work_dir, 'clip', 'tiny_clip_twins.pth')
    results = {}
    lines = [
        '| model | seed | objects | found (IoU >= 0.5) | mean best IoU | '
        'found: named (12-way) | found: named in pair |',
        '| --- | --- | --- | --- | --- | --- | --- |'
    ]
    for variant in VARIANTS:
        for seed, run_dir in seed_dirs(args.work_dir, variant).items():
            if not osp.isfile(osp.join(run_dir, 'last_checkpoint')):
                continue
            row = evaluate_run(variant, run_dir, clip, args.data_root,
                               args.num_scenes)
            results.setdefault(variant, {})[seed] = row
            lines.append(
                f'| {variant} | {seed} | {row["objects"]} | '
                f'{row["found"]:.1f} | {row["mean_best_iou"]:.1f} | '
                f'{row["named"]:.1f} | {row["named_in_pair"]:.1f} |')
    if not results:
        sys.exit(f'no trained run under {args.work_dir}/<variant>/seed<k>/')
    print('\n'.join(lines))
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump(results, handle, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
