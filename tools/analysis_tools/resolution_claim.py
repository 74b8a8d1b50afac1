"""Decide the resolution claim from the detail-twin world's test results.

Reads the newest test metrics of each run under ``WORK_DIR/<variant>/seed<k>/``
(variants ``paper``, ``global-attn`` and ``p0``; mmengine's
``<timestamp>/<timestamp>.json``), pairs the runs of each seed and computes
the pre-registered endpoints (docs/resolution_claim.md) per seed, their mean
over seeds and a 95% t-interval: mean +- t * sd / sqrt(n), with sd the
sample standard deviation of the n per-seed values and t the 0.975 quantile
of Student's t with n - 1 degrees of freedom, from a table for 1 to 30. The
claim is shown iff the intervals of PRIMARY and INTERACTION both lie above 0.

Prints Markdown: the decision, every seed's value of every endpoint and the
per-seed test metrics; ``--json OUT`` writes the same content as JSON::

    python tools/analysis_tools/resolution_claim.py work_dirs/resolution_claim
"""
import argparse
import json
import math
import os
import os.path as osp
import sys
from typing import Dict, List, NamedTuple, Optional, Tuple

from zero_shot_table import read_metrics, seed_dirs

VARIANTS = {
    'paper': 'MROVSeg (pretrained tiny CLIP)',
    'global-attn': 'multi-grained attention off',
    'p0': 'slice ratio p = 0 (global view only)',
}
# a test record of the detail-twin world holds this key
RECORD_KEY = 'naming_all_large'
TABLE_KEYS = ('mIoU', ) + tuple(f'{measure}_{group}_{kind}'
                                for measure in ('naming', 'iou')
                                for group in ('detail', 'control')
                                for kind in ('fine', 'large', 'small'))
# two-sided 95%: the 0.975 quantile of Student's t, degrees of freedom 1..30
T_975 = (12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060,
         2.2622, 2.2281, 2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199,
         2.1098, 2.1009, 2.0930, 2.0860, 2.0796, 2.0739, 2.0687, 2.0639,
         2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423)
INTERVAL = ('95% interval: mean +- t * sd / sqrt(n) over the n paired seeds, '
            "t the 0.975 quantile of Student's t with n - 1 degrees of "
            'freedom (tabulated for 1 to 30)')
DECIDING = ('PRIMARY', 'INTERACTION')
# (sign, metric key, variant)
Term = Tuple[int, str, str]
Runs = Dict[str, Dict[int, Dict[str, float]]]


class Endpoint(NamedTuple):
    """A signed sum of test metrics of the same seed's runs."""
    name: str
    terms: Tuple[Term, ...]

    @property
    def definition(self) -> str:
        text = ' '.join(f'{"+" if sign > 0 else "-"} {key}({variant})'
                        for sign, key, variant in self.terms)
        return text[2:] if text.startswith('+ ') else text


def difference(key: str,
               first: str,
               second: str,
               sign: int = 1) -> Tuple[Term, ...]:
    """Terms of ``sign * (key(first) - key(second))``."""
    return ((sign, key, first), (-sign, key, second))


ENDPOINTS = (
    Endpoint('PRIMARY', difference('naming_detail_fine', 'paper',
                                   'global-attn')),
    Endpoint(
        'INTERACTION',
        difference('naming_detail_fine', 'paper', 'global-attn') +
        difference('naming_detail_large', 'paper', 'global-attn', -1)),
    Endpoint('SECONDARY iou_all_small',
             difference('iou_all_small', 'paper', 'p0')),
    Endpoint('SECONDARY naming_control_fine',
             difference('naming_control_fine', 'paper', 'global-attn')),
    Endpoint('SECONDARY iou_control_small',
             difference('iou_control_small', 'paper', 'p0')),
    Endpoint('SECONDARY naming_checkered_fine',
             difference('naming_checkered_fine', 'paper', 'global-attn')),
    Endpoint('SECONDARY naming_plain_fine',
             difference('naming_plain_fine', 'paper', 'global-attn')),
)


def collect(work_dir: str) -> Runs:
    """{variant: {seed: newest test metrics}}; empty metrics for a run
    without any (not tested yet)."""
    return {
        variant: {
            seed: read_metrics(run, RECORD_KEY)
            for seed, run in seed_dirs(work_dir, variant).items()
        }
        for variant in VARIANTS
    }


def endpoint_values(endpoint: Endpoint, runs: Runs,
                    notes: List[str]) -> Dict[int, float]:
    """{seed: value} over the seeds that every variant of ``endpoint`` has
    tested; each seed left out gets a line in ``notes``."""
    variants = list(dict.fromkeys(variant for _, _, variant in endpoint.terms))
    tested = {
        variant: {seed
                  for seed, m in runs.get(variant, {}).items() if m}
        for variant in variants
    }
    untested = [variant for variant in variants if not tested[variant]]
    if untested:
        notes.append(f'{endpoint.name}: not computed, no tested '
                     f'{" / ".join(untested)} run')
        return {}
    values = {}
    for seed in sorted(set.union(*tested.values())):
        missing = [v for v in variants if seed not in tested[v]]
        if missing:
            notes.append(f'{endpoint.name}: seed {seed} left out, unpaired: '
                         f'no tested {" / ".join(missing)} run')
            continue
        absent = [
            f'{key}({variant})' for _, key, variant in endpoint.terms
            if key not in runs[variant][seed]
        ]
        if absent:
            notes.append(f'{endpoint.name}: seed {seed} left out: its '
                         f'metrics have no {", ".join(absent)}')
            continue
        values[seed] = sum(sign * runs[variant][seed][key]
                           for sign, key, variant in endpoint.terms)
    return values


def t_quantile(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom."""
    if not 1 <= df <= len(T_975):
        raise ValueError(f'resolution_claim.py: t quantiles are tabulated '
                         f'for 1 to {len(T_975)} degrees of freedom, not {df}')
    return T_975[df - 1]


def summarize(values: List[float]) -> Dict[str, Optional[float]]:
    """Mean, sample sd and 95% t-interval of per-seed values (None where
    fewer values than needed)."""
    n = len(values)
    summary = dict(
        n=n, mean=None, sd=None, t=None, half_width=None, low=None, high=None)
    if n == 0:
        return summary
    mean = sum(values) / n
    summary['mean'] = mean
    if n < 2:
        return summary
    sd = math.sqrt(sum((value - mean)**2 for value in values) / (n - 1))
    t = t_quantile(n - 1)
    half_width = t * sd / math.sqrt(n)
    summary.update(
        sd=sd,
        t=t,
        half_width=half_width,
        low=mean - half_width,
        high=mean + half_width)
    return summary


def decide(results: Dict[str, dict]) -> Tuple[bool, str]:
    """Whether the claim is shown, and why."""
    reasons = []
    for name in DECIDING:
        low, high = results[name]['low'], results[name]['high']
        if low is None:
            reasons.append(f'{name} has fewer than 2 paired seeds')
        elif low <= 0:
            reasons.append(f'the {name} interval [{low:.2f}, {high:.2f}] '
                           f'does not lie above 0')
    if reasons:
        return False, '; '.join(reasons)
    return True, 'the PRIMARY and INTERACTION intervals both lie above 0'


def analyse(runs: Runs) -> dict:
    """Endpoints per seed and over seeds, the decision and the raw table."""
    notes = []
    for variant in VARIANTS:
        if not runs.get(variant):
            notes.append(f'no {variant} run found')
        for seed, metrics in runs.get(variant, {}).items():
            if not metrics:
                notes.append(f'{variant} seed {seed}: no test metrics '
                             f'(with {RECORD_KEY}) logged')
    results = {}
    for endpoint in ENDPOINTS:
        values = endpoint_values(endpoint, runs, notes)
        results[endpoint.name] = dict(
            definition=endpoint.definition,
            per_seed=values,
            **summarize(list(values.values())))
    shown, reason = decide(results)
    table = {
        variant: {
            seed: {
                key: metrics[key]
                for key in TABLE_KEYS if key in metrics
            }
            for seed, metrics in seeds.items() if metrics
        }
        for variant, seeds in runs.items()
    }
    return dict(
        decision='claim shown' if shown else 'claim not shown',
        shown=shown,
        reason=reason,
        interval=INTERVAL,
        endpoints=results,
        runs=table,
        notes=notes)


def _number(value: Optional[float]) -> str:
    return '-' if value is None else f'{value:.2f}'


def format_markdown(report: dict) -> str:
    """The report as Markdown."""
    lines = [
        f'## Resolution claim: {report["decision"]}', '',
        f'{report["reason"]}.', '',
        '| endpoint | definition | seeds | per seed | mean | 95% interval |',
        '| --- | --- | --- | --- | --- | --- |'
    ]
    for name, result in report['endpoints'].items():
        each = ', '.join(f'{seed}: {value:.2f}'
                         for seed, value in result['per_seed'].items())
        interval = ('-' if result['low'] is None else
                    f'[{result["low"]:.2f}, {result["high"]:.2f}]')
        lines.append(f'| {name} | {result["definition"]} | {result["n"]} | '
                     f'{each or "-"} | {_number(result["mean"])} | '
                     f'{interval} |')
    lines += [
        '', f'{report["interval"]}.', '', '### Test metrics per run', '',
        '| variant | seed | ' + ' | '.join(TABLE_KEYS) + ' |',
        '| --- | --- |' + ' --- |' * len(TABLE_KEYS)
    ]
    for variant, seeds in report['runs'].items():
        for seed, metrics in seeds.items():
            lines.append(f'| {variant} | {seed} | ' + ' | '.join(
                _number(metrics.get(key)) for key in TABLE_KEYS) + ' |')
    if report['notes']:
        lines += ['', '### Notes', '']
        lines += [f'- {note}' for note in report['notes']]
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dir')
    parser.add_argument('--json', help='also write the report here as JSON')
    args = parser.parse_args(argv)
    runs = collect(args.work_dir)
    if not any(metrics for seeds in runs.values()
               for metrics in seeds.values()):
        sys.exit(f'resolution_claim.py: no test results under '
                 f'{args.work_dir}/<variant>/seed<k>/ (variants: '
                 f'{", ".join(VARIANTS)})')
    report = analyse(runs)
    print(format_markdown(report))
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as handle:
            json.dump(report, handle, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
