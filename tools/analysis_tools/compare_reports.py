"""Say whether two evaluation reports measured the same thing, and how their
scores differ.

    python tools/analysis_tools/compare_reports.py A/report.json B/report.json

Two reports measured the same thing when their class lists (the names the
text encoder saw and the official names), dataset type, number of images,
preparation stamp and test data and evaluator settings (the config's
``test_dataloader.dataset``, less ``data_root``, and ``test_evaluator``,
less ``LabelMapWriter``) are equal; the checkpoint, the precision and the
rest of the config may differ (that is what one compares). Exit status 0
when they measured the same thing, 1 when not.
"""
import argparse
import json
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config

IDENTITY = ('classes_sha256', 'raw_classes_sha256', 'type', 'images',
            'preparation')
# Settings of one run that do not change what is measured.
RUN_KEYS = ('work_dir', 'load_from', 'launcher', 'resume')
PER_CLASS_SHOWN = 10


def flatten(value, prefix: str = '') -> Dict[str, object]:
    """{'a.b[0].c': leaf} of nested dicts and lists."""
    if isinstance(value, dict):
        items = [(f'{prefix}.{key}' if prefix else str(key), item)
                 for key, item in value.items()]
    elif isinstance(value, (list, tuple)):
        items = [(f'{prefix}[{index}]', item)
                 for index, item in enumerate(value)]
    else:
        return {prefix: value}
    flat = {}
    for key, item in items:
        flat.update(flatten(item, key))
    return flat


def config_dict(report: dict) -> dict:
    """The report's config as a dict, without the run-only keys."""
    cfg = Config.fromstring(report['config'], '.py').to_dict()
    for key in RUN_KEYS:
        cfg.pop(key, None)
    return cfg


def measurement_settings(cfg: dict) -> dict:
    """Test data and evaluator settings, less data_root and LabelMapWriter."""
    dataset = dict((cfg.get('test_dataloader') or {}).get('dataset') or {})
    dataset.pop('data_root', None)
    evaluators = cfg.get('test_evaluator') or []
    if isinstance(evaluators, dict):
        evaluators = [evaluators]
    evaluators = [e for e in evaluators if e.get('type') != 'LabelMapWriter']
    return dict(dataset=dataset, evaluator=evaluators)


def differences(first: dict, second: dict) -> List[str]:
    """Flattened keys whose values differ."""
    first, second = flatten(first), flatten(second)
    return sorted(
        key for key in set(first) | set(second)
        if first.get(key, '<absent>') != second.get(key, '<absent>'))


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 40 else text[:37] + '...'


def _change(first: Optional[float], second: Optional[float]) -> str:
    if first is None or second is None:
        return f'{first} -> {second}'
    return f'{first:.2f} -> {second:.2f} ({second - first:+.2f})'


def compare(first: dict, second: dict) -> Tuple[bool, List[str]]:
    """(same measurement, lines to print) for two loaded reports."""
    lines = []
    same = True
    for key in IDENTITY:
        a, b = first['dataset'].get(key), second['dataset'].get(key)
        same &= a == b
        state = 'same' if a == b else 'DIFFERENT'
        shown = _short(a) if a == b else f'{_short(a)} vs {_short(b)}'
        lines.append(f'  {key}: {state} ({shown})')
    configs = [config_dict(first), config_dict(second)]
    settings = differences(*map(measurement_settings, configs))
    same &= not settings
    lines.append('  test data and evaluator settings: ' +
                 ('same' if not settings else 'DIFFERENT: ' +
                  ', '.join(settings)))
    lines.insert(0, 'same measurement: ' + ('yes' if same else 'NO'))
    checkpoints = [
        report['checkpoint']['sha256'] for report in (first, second)
    ]
    lines.append('checkpoint: ' + (
        'same' if checkpoints[0] == checkpoints[1] else 'different') +
                 f' ({checkpoints[0]} vs {checkpoints[1]})')
    precisions = [
        report.get('precision', 'not recorded') for report in (first, second)
    ]
    lines.append('precision: ' + (
        f'same ({precisions[0]})' if precisions[0] == precisions[1] else
        f'different ({precisions[0]} vs {precisions[1]})'))
    other = [
        key for key in differences(*configs)
        if not key.startswith(('test_dataloader.', 'test_evaluator'))
    ]
    lines.append('other config differences: ' +
                 (', '.join(other) if other else 'none'))
    lines.append('metrics:')
    for key in first['metrics']:
        if key in second['metrics']:
            lines.append(
                f'  {key}: ' +
                _change(first['metrics'][key], second['metrics'][key]))
    lines.extend(per_class_changes(first, second))
    return same, lines


def per_class_changes(first: dict, second: dict) -> List[str]:
    """The classes whose IoU changed most, when both lists are the same."""
    if first['dataset']['classes_sha256'] != \
            second['dataset']['classes_sha256']:
        return ['per class: not compared (the class lists differ)']
    changes = []
    for a, b in zip(first['per_class'], second['per_class']):
        if a.get('IoU') is not None and b.get('IoU') is not None:
            changes.append((b['IoU'] - a['IoU'], a))
    changes.sort(key=lambda change: -abs(change[0]))
    lines = [f'per class IoU, largest of {len(changes)} changes:']
    for _, row in changes[:PER_CLASS_SHOWN]:
        other = second['per_class'][row['id']]
        lines.append(f'  {row["id"]} {row["name"]}: ' +
                     _change(row['IoU'], other['IoU']))
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description='Compare two report.json files written by tools/test.py')
    parser.add_argument('first')
    parser.add_argument('second')
    args = parser.parse_args(argv)
    reports = []
    for path in (args.first, args.second):
        with open(path) as handle:
            reports.append(json.load(handle))
    same, lines = compare(*reports)
    print('\n'.join(lines))
    return 0 if same else 1


if __name__ == '__main__':
    sys.exit(main())
