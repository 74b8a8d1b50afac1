"""Evaluate an MROVSeg checkpoint: per-class IoU table and mIoU.

    python tools/test.py configs/mrovseg_vitb_coco640_eval_ade847.py CKPT
    bash tools/dist_test.sh CONFIG CKPT 8 --show-dir vis

``--precision bf16`` (CPU or CUDA) or ``fp16`` (CUDA) runs the network
under autocast (:class:`~mrovseg_mmseg.engine.PrecisionTestLoop`); the
scoring stays float32. Beside mmseg's log,
``<work_dir>/<timestamp>/report.json`` and ``report.md`` say what was
measured (class list and checkpoint SHA-256, preparation stamp, config,
precision); ``tools/analysis_tools/compare_reports.py`` compares two.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from mrovseg_mmseg.utils.distributed import (init_cpu_distributed,
                                              shutdown_distributed)
from mrovseg_mmseg.utils.precision import PRECISIONS


def parse_args():
    parser = argparse.ArgumentParser(
        description='Test an MROVSeg model (mIoU per class and overall)')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='folder for the evaluation log')
    parser.add_argument(
        '--out',
        help='folder where the predicted label maps are written as PNG')
    parser.add_argument(
        '--show-dir',
        help='folder for colour overlays of the predictions with a legend of '
        'class names (a relative path is taken inside the work dir)')
    parser.add_argument('--show', action='store_true',
                        help='display the overlays in a window')
    parser.add_argument('--wait-time', type=float, default=2,
                        help='seconds each overlay is displayed with --show')
    parser.add_argument(
        '--precision',
        choices=list(PRECISIONS),
        help='fp32, or autocast to bf16 (CUDA, or a CPU with avx512_bf16 or '
        'amx_bf16 for speed) or fp16 (CUDA); masks are scored in fp32 '
        '(default: as the config\'s test loop, fp32 for ours)')
    parser.add_argument(
        '--non-strict',
        action='store_true',
        help='load a checkpoint whose keys or shapes do not all match the '
        'model (the mismatches are logged); by default they are an error')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher for distributed testing')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_visualization(cfg: Config, args) -> None:
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise KeyError('--show/--show-dir need default_hooks.visualization '
                       '(SegVisualizationHook) in the config')
    hook = hooks.visualization
    hook.draw = True
    hook.interval = 1
    if args.show:
        hook.show = True
        hook.wait_time = args.wait_time
    if args.show_dir:
        cfg.visualizer.save_dir = osp.join(cfg.work_dir, args.show_dir)
        cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]


def require_strict_loading(cfg: Config, strict: bool) -> None:
    """Make sure StrictLoadHook checks the checkpoint (see its module)."""
    hooks = list(cfg.get('custom_hooks') or [])
    found = [hook for hook in hooks if hook.get('type') == 'StrictLoadHook']
    if not found:
        found = [dict(type='StrictLoadHook')]
        hooks.extend(found)
    for hook in found:
        hook['strict'] = strict
    cfg.custom_hooks = hooks


def add_report(cfg: Config) -> None:
    """Have EvaluationReportHook write report.json and report.md."""
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(hook.get('type') == 'EvaluationReportHook' for hook in hooks):
        hooks.append(dict(type='EvaluationReportHook'))
    cfg.custom_hooks = hooks


def set_precision(cfg: Config, precision: str) -> None:
    """Test with PrecisionTestLoop at ``precision``.

    Raises:
        ValueError: the config's test loop is not mmengine's TestLoop (or
            ours), or sets mmengine's ``fp16``, which --precision replaces.
    """
    test_cfg = dict(cfg.get('test_cfg') or {})
    loop = test_cfg.pop('type', 'TestLoop')
    if loop not in ('TestLoop', 'PrecisionTestLoop'):
        raise ValueError(f'--precision needs test_cfg.type TestLoop; the '
                         f'config has {loop}')
    if test_cfg.pop('fp16', False):
        raise ValueError('--precision replaces test_cfg.fp16=True (mmengine: '
                         'float16 on CUDA, bfloat16 on CPU, the scoring '
                         'included); give one of them')
    cfg.test_cfg = dict(test_cfg, type='PrecisionTestLoop',
                        precision=precision)


def drop_training(cfg: Config) -> None:
    """Remove the training settings from a test run's config.

    mmseg's visualization hook reads ``runner.iter``, which builds the
    training loop on first use: the training dataset is loaded (it may not
    exist where a model is evaluated) and the visualizer takes the training
    classes, so an open-vocabulary model tested on other classes had its
    overlays labelled with the training names.
    """
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper',
                'param_scheduler'):
        cfg[key] = None


def main():
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(
            f'checkpoint {args.checkpoint} ({osp.abspath(args.checkpoint)}) '
            'does not exist: give the path of a trained checkpoint (the '
            'training work dir names its latest in last_checkpoint), or '
            'train one first with tools/train.py or tools/dist_train.sh')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    drop_training(cfg)
    require_strict_loading(cfg, strict=not args.non_strict)
    add_report(cfg)
    if args.precision is not None:
        set_precision(cfg, args.precision)
    if args.show or args.show_dir:
        enable_visualization(cfg, args)
    if args.out:
        cfg.test_evaluator = [cfg.test_evaluator] if isinstance(
            cfg.test_evaluator, dict) else list(cfg.test_evaluator)
        cfg.test_evaluator.append(
            dict(type='LabelMapWriter', out_dir=args.out))
    init_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    runner.test()
    shutdown_distributed()


if __name__ == '__main__':
    main()
