"""mIoU of a checkpoint on its test images whole and cut to non-square
windows (same pixels, same scale): a check that predictions stay on their
pixels whatever the image's aspect.

    python tools/analysis_tools/crop_consistency.py \
        configs/mrovseg_tiny_shapes64.py work_dirs/demo/iter_600.pth
"""
import argparse

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from mrovseg_mmseg.evaluation.crop_consistency import (DEFAULT_CROPS, WHOLE,
                                                       crop_consistency)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = cfg.get('work_dir', 'work_dirs/crop_consistency')
    cfg.load_from = args.checkpoint
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()
    runner.call_hook('before_test')
    scores = crop_consistency(runner.model.eval(),
                              runner.test_dataloader.dataset)
    whole = scores[WHOLE]
    print(f'{"window (axis, kept, anchor)":32s} {"mIoU":>7s} {"vs whole":>9s}')
    for window in (WHOLE, ) + DEFAULT_CROPS:
        print(f'{str(window):32s} {scores[window]:7.2f} '
              f'{scores[window] - whole:+9.2f}')


if __name__ == '__main__':
    main()
