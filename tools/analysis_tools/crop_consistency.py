"""mIoU of a checkpoint on non-square crops of its test images (same pixels,
same scale), predicted from the crop and from the whole image: a check that
predictions stay on their pixels whatever the image's aspect.

    python tools/analysis_tools/crop_consistency.py \
        configs/mrovseg_tiny_shapes64.py work_dirs/demo/iter_600.pth
"""
import argparse

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from mrovseg_mmseg.evaluation.crop_consistency import (DEFAULT_CROPS,
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
    print(f'{"crop (axis, kept, anchor)":28s} {"from crop":>9s} '
          f'{"from whole":>10s} {"difference":>10s} {"agreement":>9s}')
    for window in DEFAULT_CROPS:
        score = scores[window]
        print(f'{str(window):28s} {score.cropped:9.2f} {score.whole:10.2f} '
              f'{score.cropped - score.whole:+10.2f} '
              f'{score.agreement:8.2f}%')


if __name__ == '__main__':
    main()
