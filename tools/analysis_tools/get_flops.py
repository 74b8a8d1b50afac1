"""Count the FLOPs of an MROVSeg model for one image.

    python tools/analysis_tools/get_flops.py CONFIG --shape 640 640 \
        --cfg-options model.backbone.pretrained=None \
        model.text_encoder.pretrained=None

FLOPs are counted by ``torch.utils.flop_counter`` on the real forward pass
(every CLIP view, adapter, decoder and classifier), so they follow the
slicing of the given image size. 1 FLOP is one multiply or one add; papers
that say "GFLOPs" usually count multiply-adds (GMAC = GFLOP / 2).
"""
import argparse
from typing import Dict, Tuple

import torch
from mmengine.config import Config, DictAction
from torch.utils.flop_counter import FlopCounterMode

from mrovseg_mmseg.utils.flop_formulas import ATTENTION_FORMULAS

DEFAULT_VOCABULARY = ('wall', 'floor', 'sky', 'tree', 'person', 'car', 'road',
                      'grass', 'building', 'table')


def build_model(cfg: Config):
    import mrovseg_mmseg  # noqa: F401
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules()
    torch.manual_seed(0)
    return MODELS.build(cfg.model).eval()


def count_flops(model, shape: Tuple[int, int],
                num_classes: int = len(DEFAULT_VOCABULARY)) -> Dict:
    """FLOPs of ``model(x, mode='tensor')`` for one (1, 3, H, W) image."""
    names = [DEFAULT_VOCABULARY[i % len(DEFAULT_VOCABULARY)] + (
        f' {i}' if i >= len(DEFAULT_VOCABULARY) else '')
             for i in range(num_classes)]
    model.set_vocabulary(names)
    inputs = torch.randn(1, 3, *shape)
    with torch.no_grad():
        model.text_embeds('test')  # text side is per vocabulary, not image
        counter = FlopCounterMode(display=False,
                                   custom_mapping=ATTENTION_FORMULAS)
        with counter:
            model(inputs, mode='tensor')
    by_module = {
        name: sum(counter.get_flop_counts().get(name, {}).values())
        for name in ('MROVSeg.backbone', 'MROVSeg.neck',
                     'MROVSeg.decode_head')
    }
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return dict(flops=counter.get_total_flops(), by_module=by_module,
                params=params, trainable_params=trainable)


def main():
    parser = argparse.ArgumentParser(description='FLOPs of an MROVSeg model')
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, default=[640, 640],
                        metavar=('H', 'W'), help='input image size')
    parser.add_argument('--num-classes', type=int,
                        default=len(DEFAULT_VOCABULARY),
                        help='vocabulary size used for the count')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    result = count_flops(build_model(cfg), tuple(args.shape),
                         args.num_classes)
    height, width = args.shape
    print(f'input {height}x{width}, {args.num_classes} classes')
    print(f'GFLOP total: {result["flops"] / 1e9:.1f} '
          f'({result["flops"] / 2e9:.1f} GMAC)')
    for name, flops in result['by_module'].items():
        print(f'  {name.split(".", 1)[1]:<12} {flops / 1e9:8.1f} GFLOP')
    print(f'parameters: {result["params"] / 1e6:.2f} M '
          f'({result["trainable_params"] / 1e6:.2f} M trainable)')


if __name__ == '__main__':
    main()
