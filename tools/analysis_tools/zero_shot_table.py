"""Tabulate the zero-shot demo's test results over variants and seeds.

Reads the metrics that ``tools/test.py`` logged under
``WORK_DIR/<variant>/seed<k>/`` (mmengine's ``<timestamp>/<timestamp>.json``,
the newest one per run) and prints a Markdown table: per variant the mean
over seeds and, in brackets, each seed's value::

    python tools/analysis_tools/zero_shot_table.py work_dirs/zero_shot_demo
"""
import argparse
import glob
import json
import os.path as osp
import sys
from typing import Dict, List

COLUMNS = ('mIoU', 'mIoU_seen', 'mIoU_unseen', 'hIoU', 'mIoU_small',
           'mIoU_large')
VARIANTS = {
    'paper': 'MROVSeg (pretrained tiny CLIP)',
    'p0': 'slice ratio p = 0 (global view only)',
    'global-attn': 'multi-grained attention off',
    'random-clip': 'random CLIP',
}


def read_metrics(run_dir: str, key: str = 'mIoU_unseen') -> Dict[str, float]:
    """The newest test metrics logged under ``run_dir``: the last logged
    record holding ``key`` (empty if none). Only mmengine's
    ``<timestamp>/<timestamp>.json`` is read, not the report beside it."""
    found = {}
    for path in sorted(glob.glob(osp.join(run_dir, '*', '*.json'))):
        if osp.basename(path) != osp.basename(osp.dirname(path)) + '.json':
            continue
        with open(path) as handle:
            for line in handle:
                record = json.loads(line)
                if key in record:
                    found = record
    return found


def seed_dirs(work_dir: str, variant: str) -> Dict[int, str]:
    """{seed: run dir} of ``work_dir/<variant>/seed<k>/``, in seed order."""
    runs = {}
    for path in glob.glob(osp.join(work_dir, variant, 'seed*')):
        seed = osp.basename(path)[len('seed'):]
        if osp.isdir(path) and seed.isdigit():
            runs[int(seed)] = path
    return dict(sorted(runs.items()))


def collect(work_dir: str) -> Dict[str, List[Dict[str, float]]]:
    """{variant: [metrics of each seed, in seed order]} for finished runs."""
    runs = {}
    for variant in VARIANTS:
        metrics = [
            read_metrics(run) for run in seed_dirs(work_dir, variant).values()
        ]
        metrics = [m for m in metrics if m]
        if metrics:
            runs[variant] = metrics
    return runs


def format_table(runs: Dict[str, List[Dict[str, float]]]) -> str:
    """Markdown table: mean over seeds, each seed's value in brackets."""
    lines = [
        '| model | seeds | ' + ' | '.join(COLUMNS) + ' |',
        '| --- | --- |' + ' --- |' * len(COLUMNS),
    ]
    for variant, metrics in runs.items():
        cells = []
        for column in COLUMNS:
            values = [m[column] for m in metrics]
            mean = sum(values) / len(values)
            each = ' / '.join(f'{value:.1f}' for value in values)
            cells.append(f'{mean:.1f} ({each})')
        lines.append(f'| {VARIANTS[variant]} | {len(metrics)} | ' +
                     ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dir')
    args = parser.parse_args(argv)
    runs = collect(args.work_dir)
    if not runs:
        sys.exit(f'no test results under {args.work_dir}/<variant>/seed<k>/ '
                 f'(variants: {", ".join(VARIANTS)})')
    print(format_table(runs))
    return 0


if __name__ == '__main__':
    sys.exit(main())
