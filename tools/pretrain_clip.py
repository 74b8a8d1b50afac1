"""Pretrain the small CLIP of a generated-world config from scratch.

The architecture comes from the config's ``model.backbone.model_cfg``, the
captioned world from its training dataset (the material world or the
detail-twin world, whose pairs come from the world seed's own stream), and
the checkpoint goes where its ``model.backbone.pretrained`` points (``--out``
overrides), so the config then loads the result as its frozen CLIP::

    python tools/pretrain_clip.py configs/zero_shot_demo/mrovseg_tiny_materials64.py

An existing checkpoint is kept unless ``--force`` is given.
"""
import argparse
import os.path as osp
import sys

import torch
from mmengine.config import Config

from mrovseg_mmseg.datasets.material_world import UNSEEN_CLASSES
from mrovseg_mmseg.engine.clip_pretraining import (format_accuracy,
                                                   pretrain_clip)

# training dataset type -> pretraining world
WORLD_OF_DATASET = {
    'MaterialWorldDataset': 'material',
    'DetailTwinWorldDataset': 'twins',
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a config with model.backbone.model_cfg')
    parser.add_argument('--out', help='checkpoint path (default: the '
                        "config's model.backbone.pretrained)")
    parser.add_argument('--iters', type=int, default=800)
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--lr', type=float, default=2e-3)
    parser.add_argument('--pool-size', type=int, default=20000,
                        help='number of generated image-caption pairs')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: torch decides)')
    parser.add_argument('--force', action='store_true',
                        help='train again even if the checkpoint exists')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    backbone = cfg.model.backbone
    model_cfg = backbone.get('model_cfg')
    if model_cfg is None:
        sys.exit(f'{args.config}: model.backbone.model_cfg is not set; '
                 'pretraining needs an explicit open_clip.CLIP architecture.')
    dataset = cfg.get('train_dataloader', {}).get('dataset', {})
    world = WORLD_OF_DATASET.get(dataset.get('type'))
    if world is None:
        sys.exit(f'{args.config}: train_dataloader.dataset.type is '
                 f"{dataset.get('type')!r}; pretraining captions one of "
                 f'{sorted(WORLD_OF_DATASET)}.')
    out = args.out or backbone.get('pretrained')
    if not out:
        sys.exit(f'{args.config}: model.backbone.pretrained is not set; '
                 'give the checkpoint path with --out.')
    if osp.exists(out) and not args.force:
        print(f'[pretrain_clip] {out} exists; keeping it (--force retrains)')
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    checkpoint = pretrain_clip(
        model_cfg.to_dict(),
        out,
        iters=args.iters,
        batch_size=args.batch_size,
        lr=args.lr,
        pool_size=args.pool_size,
        seed=args.seed,
        world=world,
        world_seed=dataset.get('seed') if world == 'twins' else None)
    print(f'[pretrain_clip] saved {out}')
    print('[pretrain_clip] zero-shot accuracy on held-out single-class '
          'views:')
    print(format_accuracy(checkpoint['zero_shot_accuracy'],
                          UNSEEN_CLASSES if world == 'material' else ()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
