"""Time the truncated text encoding against the full 77-token context.

Builds an open_clip text tower of the given architecture with random weights
(no download), embeds COCO-Stuff's 171 class names with a template set, once
with :class:`OpenCLIPTextEncoder` (each batch cut to its longest prompt) and
once with open_clip's ``build_zero_shot_classifier`` (full context), and
prints both times, the speed-up and the largest difference between the two.

    python tools/analysis_tools/text_encoding_speed.py
    python tools/analysis_tools/text_encoding_speed.py --model-name ViT-L-14
"""
import argparse
import os
import tempfile
import time

import open_clip
import torch
from mmseg.datasets import COCOStuffDataset

from mrovseg_mmseg.models.text_encoders import (OpenCLIPTextEncoder,
                                                resolve_templates)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model-name', default='ViT-B-16')
    parser.add_argument('--templates', default='vild')
    parser.add_argument('--prompts-per-batch', type=int, default=256)
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch CPU threads (default: torch default)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    names = list(COCOStuffDataset.METAINFO['classes'])
    templates = resolve_templates(args.templates)
    torch.manual_seed(0)
    clip = open_clip.create_model(args.model_name, pretrained=None).eval()
    with tempfile.TemporaryDirectory() as folder:
        weights = os.path.join(folder, 'random_clip.pt')
        torch.save(clip.state_dict(), weights)
        encoder = OpenCLIPTextEncoder(
            model_name=args.model_name,
            pretrained=weights,
            templates=templates,
            prompts_per_batch=args.prompts_per_batch)
    tokenizer = open_clip.get_tokenizer(args.model_name)
    tokens = tokenizer([t.format(name) for name in names for t in templates])
    lengths = tokens.argmax(dim=-1) + 1  # (P, ) tokens up to end-of-text
    print(f'{args.model_name} text tower, random weights, '
          f'{torch.get_num_threads()} threads: {len(names)} classes x '
          f'{len(templates)} templates = {len(tokens)} prompts; tokens per '
          f'prompt mean {lengths.float().mean():.1f}, max {lengths.max()}, '
          f'context {tokens.shape[1]}')

    start = time.perf_counter()
    truncated = encoder(names)
    truncated_time = time.perf_counter() - start

    start = time.perf_counter()
    full = open_clip.build_zero_shot_classifier(
        clip,
        tokenizer=tokenizer,
        classnames=names,
        templates=templates,
        num_classes_per_batch=max(1, args.prompts_per_batch // len(templates)))
    full_time = time.perf_counter() - start

    difference = (truncated - full.T).abs().max().item()
    print(f'truncated (OpenCLIPTextEncoder): {truncated_time:.2f} s')
    print(f'full context (build_zero_shot_classifier): {full_time:.2f} s')
    print(f'speed-up: {full_time / truncated_time:.2f}x; '
          f'max |difference| {difference:.2e}')


if __name__ == '__main__':
    main()
