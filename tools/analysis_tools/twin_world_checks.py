"""Check the detail-twin world's premise on its held-out scenes: can the
global view tell detail twins apart, can the slices, and does a frozen CLIP
with nothing learned name them from either?

Both checks run on the scenes of the world's val split for ``--seed`` (the
config's held-out scenes at its ``world_seed``); see
``mrovseg_mmseg/evaluation/detail_probe.py``. Prints Markdown tables and
writes the results as JSON::

    python tools/analysis_tools/twin_world_checks.py \
        configs/resolution_claim/mrovseg_tiny_twins64.py
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

import torch
from mmengine.config import Config

from mrovseg_mmseg.evaluation.detail_probe import (
    build_frozen_clip_probe, frozen_clip_probe, held_out_scenes,
    model_free_check)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='an MROVSeg config of the twin world')
    clip = parser.add_mutually_exclusive_group()
    clip.add_argument('--clip', help='CLIP checkpoint file for the backbone '
                      "and the text encoder (default: the config's)")
    clip.add_argument('--random-clip', action='store_true',
                      help='a random CLIP (pretrained=None), seeded by --seed')
    parser.add_argument('--num-scenes', type=int, default=100)
    parser.add_argument('--seed', type=int, default=2026,
                        help='world seed whose val scenes are used')
    parser.add_argument('--out', help='JSON file (default: work_dirs/'
                        'twin_world_checks/<config name>.json)')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def _number(value, digits: int = 2) -> str:
    return '-' if value is None else f'{value:.{digits}f}'


def format_model_free(result: dict) -> str:
    """Markdown tables of :func:`model_free_check`'s result."""
    lines = [
        f'Local contrast: {result["contrast_measure"]}.', '',
        '| kind | objects | not visible in the global view | '
        'no contrast in the global view |', '| --- | --- | --- | --- |'
    ]
    for kind, counts in result['objects'].items():
        lines.append(f'| {kind} | {counts["total"]} | '
                     f'{counts["not_visible_global"]} | '
                     f'{counts["no_contrast_global"]} |')
    lines += [
        '', '| kind | pair (first vs second) | view | n | contrast first | '
        'contrast second | second - first [95% CI] | colour difference |',
        '| --- | --- | --- | --- | --- | --- | --- | --- |'
    ]
    for row in result['rows']:
        interval = row['contrast_diff_ci95']
        diff = '-' if row['contrast_diff'] is None else (
            f'{row["contrast_diff"]:+.2f} '
            f'[{interval[0]:+.2f}, {interval[1]:+.2f}]')
        lines.append(
            f'| {row["kind"]} | {row["pair"]} | {row["view"]} | '
            f'{row["count_first"]} / {row["count_second"]} | '
            f'{_number(row["contrast_first"])} | '
            f'{_number(row["contrast_second"])} | {diff} | '
            f'{_number(row["colour_diff_norm"])} |')
    return '\n'.join(lines)


def format_probe(result: dict) -> str:
    """Markdown table of :func:`frozen_clip_probe`'s result."""
    lines = [
        '| keys | kind | group | n | 12-way accuracy | twin accuracy '
        '[95% CI] |', '| --- | --- | --- | --- | --- | --- |'
    ]
    for row in result['rows']:
        twin = '-' if row['twin_accuracy'] is None else (
            f'{100 * row["twin_accuracy"]:.1f} '
            f'[{100 * row["twin_ci95"][0]:.1f}, '
            f'{100 * row["twin_ci95"][1]:.1f}]')
        accuracy = ('-' if row['accuracy'] is None else
                    f'{100 * row["accuracy"]:.1f}')
        lines.append(f'| {row["mode"]} | {row["kind"]} | {row["group"]} | '
                     f'{row["count"]} | {accuracy} | {twin} |')
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.num_scenes < 1:
        sys.exit(f'--num-scenes={args.num_scenes} must be at least 1.')
    started = time.perf_counter()
    cfg = Config.fromfile(args.config)
    model_cfg = cfg.model.to_dict()
    pretrained = model_cfg['backbone'].get('pretrained')
    if (args.clip is None and not args.random_clip and pretrained
            and osp.splitext(pretrained)[1] and not osp.isfile(pretrained)):
        sys.exit(f'{args.config}: model.backbone.pretrained={pretrained!r} '
                 'does not exist; train it with tools/pretrain_clip.py, or '
                 'pass --clip PATH or --random-clip.')
    if args.clip is not None and not osp.isfile(args.clip):
        sys.exit(f'--clip {args.clip}: no such file.')
    scenes = held_out_scenes(args.seed, args.num_scenes)
    model_free = model_free_check(scenes)
    probe = build_frozen_clip_probe(model_cfg, clip=args.clip,
                                    random_clip=args.random_clip,
                                    seed=args.seed, device=args.device)
    with torch.no_grad():
        probe_result = frozen_clip_probe(probe, scenes)
    runtime = time.perf_counter() - started
    clip = ('random (pretrained=None, torch seed '
            f'{args.seed})' if args.random_clip else args.clip or pretrained)
    result = dict(config=args.config, clip=clip, seed=args.seed,
                  num_scenes=args.num_scenes, model_free=model_free,
                  probe=probe_result, runtime_seconds=runtime)
    out = args.out or osp.join(
        'work_dirs', 'twin_world_checks',
        osp.splitext(osp.basename(args.config))[0] + '.json')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w') as handle:
        json.dump(result, handle, indent=1)
    print(f'## Twin-world checks: {args.num_scenes} held-out scenes of world '
          f'seed {args.seed}, CLIP {clip}\n')
    print('### A. Model-free: plain vs checkered (colour pairs: first vs '
          'second)\n')
    print(format_model_free(model_free))
    print('\n### B. Frozen CLIP probe (nothing learned; chance: 12-way '
          '8.3%, twin 50%)\n')
    print(format_probe(probe_result))
    print(f'\nwritten to {out} ({runtime:.1f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
