"""tools/test.py's report.json and report.md, on PC-459 labels written by
the preparation script, and tools/analysis_tools/compare_reports.py.

The model echoes the ground truth except its first row, predicted as class
0, so the per-class values are neither all 0 nor all 100."""
import copy
import hashlib
import importlib.util
import json
import math
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.registry import MODELS

from mrovseg_mmseg.datasets import PascalContext459Dataset
from mrovseg_mmseg.evaluation.report import class_list_sha256
from ..test_datasets.conftest import load_converter
from ..test_datasets.fakes import fake_pascal_context

REPO = Path(__file__).resolve().parents[2]
IGNORE = 65535
# Full PASCAL-Context labels (1..459, 0 unlabelled) of two images.
LABEL_MAPS = {
    '2008_000002':
    np.array([[2, 2, 0, 458], [2, 300, 300, 458], [459, 459, 300, 1]]),
    '2008_000003':
    np.array([[300, 2, 2, 2], [459, 459, 1, 0], [458, 458, 458, 2]]),
}
UNSEEN = ('wood', 'unknown')


@MODELS.register_module(force=True)
class FirstRowAsClassZero(BaseModel):
    """Predicts the ground truth, with class 0 on the first row and on
    ignored pixels; one weight to load."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        for sample in data_samples:
            labels = sample.gt_sem_seg.data.clone()
            labels[labels == IGNORE] = 0
            labels[..., 0, :] = 0
            sample.pred_sem_seg = PixelData(data=labels)
        return data_samples


def load_tool(path: Path):
    spec = importlib.util.spec_from_file_location(
        f'mrovseg_{path.stem}_{uuid.uuid4().hex}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_config(tmp_path: Path, root: Path, evaluator: dict) -> Path:
    cfg = Config(
        dict(
            default_scope='mmseg',
            experiment_name=f'report_{uuid.uuid4().hex}',
            log_level='INFO',
            model=dict(type='FirstRowAsClassZero'),
            test_dataloader=dict(
                batch_size=1,
                num_workers=0,
                sampler=dict(type='DefaultSampler', shuffle=False),
                dataset=dict(
                    type='PascalContext459Dataset',
                    data_root=str(root),
                    ann_file='ImageSets/SegmentationContext/val.txt',
                    data_prefix=dict(
                        img_path='JPEGImages',
                        seg_map_path='SegmentationClassContext459'),
                    pipeline=[
                        dict(type='LoadImageChecked'),
                        dict(type='LoadAnnotations16'),
                        dict(type='PackSegInputs')
                    ])),
            test_evaluator=dict(
                iou_metrics=['mIoU'], ignore_index=IGNORE, **evaluator),
            test_cfg=dict(type='TestLoop')))
    path = tmp_path / f'echo_pc459_{evaluator["type"]}.py'
    cfg.dump(str(path))
    return path


def run_test_tool(work_dir: Path, *args) -> Path:
    """``python tools/test.py *args --work-dir work_dir`` in this process;
    returns the timestamped log folder."""
    tool = load_tool(REPO / 'tools' / 'test.py')
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('LOCAL_RANK', '0')
        patch.setattr(
            sys, 'argv',
            ['test.py', *map(str, args), '--work-dir',
             str(work_dir)])
        tool.main()
    folder, = [path for path in work_dir.iterdir() if path.is_dir()]
    return folder


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """{metric type: (report, log folder, checkpoint)} of one test run with
    mmseg's IoUMetric and one with OpenVocabIoUMetric."""
    tmp_path = tmp_path_factory.mktemp('report')
    root = tmp_path / 'VOCdevkit' / 'VOC2010'
    fake_pascal_context(root, LABEL_MAPS)
    load_converter('pascal_context').main([str(root)])
    checkpoint = tmp_path / 'echo.pth'
    torch.save(
        dict(state_dict=FirstRowAsClassZero().state_dict(), meta={}),
        checkpoint)
    results = {}
    for evaluator in (dict(type='IoUMetric'),
                      dict(type='OpenVocabIoUMetric', unseen_classes=UNSEEN)):
        config = write_config(tmp_path, root, evaluator)
        folder = run_test_tool(tmp_path / evaluator['type'], config,
                               checkpoint)
        report = json.loads((folder / 'report.json').read_text())
        results[evaluator['type']] = (report, folder, checkpoint)
    return results


def logged_class_table(folder: Path) -> dict:
    """{class: [IoU, Acc]} of the per-class table mmseg's IoUMetric logged."""
    log, = folder.glob('*.log')
    rows = [
        line.split('|')[1:-1] for line in log.read_text().splitlines()
        if line.startswith('|')
    ]
    header, *rows = [[cell.strip() for cell in row] for row in rows]
    assert header == ['Class', 'IoU', 'Acc']
    return {name: [float(value) for value in values] for name, *values in rows}


@pytest.mark.parametrize('metric', ['IoUMetric', 'OpenVocabIoUMetric'])
def test_per_class_values_are_mmseg_iou_metric_s(runs, metric):
    report, folder, _ = runs[metric]
    logged = logged_class_table(folder)
    classes = PascalContext459Dataset.METAINFO['classes']
    assert [row['name'] for row in report['per_class']] == list(classes)
    assert len(logged) == len(classes)
    for row in report['per_class']:
        expected = logged[row['name']]
        found = [row['IoU'], row['Acc']]
        assert [math.nan if v is None else v for v in found] == \
            pytest.approx(expected, nan_ok=True, abs=0), row['name']
    partial = [
        row['IoU'] for row in report['per_class']
        if row['IoU'] is not None and 0 < row['IoU'] < 100
    ]
    assert partial, 'the predictions should give fractional IoUs'


def test_open_vocabulary_split_is_reported(runs):
    report, _, _ = runs['OpenVocabIoUMetric']
    assert {'mIoU_seen', 'mIoU_unseen', 'hIoU'} <= set(report['metrics'])
    unseen = [row['name'] for row in report['per_class'] if row['unseen']]
    assert unseen == sorted(UNSEEN)
    assert 'unseen' not in runs['IoUMetric'][0]['per_class'][0]


def test_identity_of_the_measurement(runs):
    report, folder, checkpoint = runs['IoUMetric']
    assert report['checkpoint']['sha256'] == hashlib.sha256(
        checkpoint.read_bytes()).hexdigest()
    dataset = report['dataset']
    assert (dataset['type'], dataset['images'],
            dataset['num_classes']) == ('PascalContext459Dataset', 2, 459)
    assert dataset['classes_sha256'] == hashlib.sha256('\n'.join(
        PascalContext459Dataset.METAINFO['classes']).encode()).hexdigest()
    assert dataset['raw_classes_sha256'] == class_list_sha256(
        PascalContext459Dataset.METAINFO['raw_classes'])
    assert dataset['classes_sha256'] != dataset['raw_classes_sha256']
    assert dataset['preparation'] == dict(
        script='pascal_context.py',
        version=load_converter('pascal_context').PREPARATION_VERSION,
        options={})
    assert "type='PascalContext459Dataset'" in report['config']
    page = (folder / 'report.md').read_text()
    assert f'| checkpoint sha256 | {report["checkpoint"]["sha256"]} |' in page
    row = report['per_class'][1]
    assert f'| 1 | aeroplane | {row["IoU"]:.2f} | {row["Acc"]:.2f} |' in page


def test_class_list_hash_changes_with_one_name_or_the_order():
    names = list(PascalContext459Dataset.METAINFO['classes'])
    renamed = names[:100] + ['air-conditioner'] + names[101:]
    swapped = [names[1], names[0]] + names[2:]
    hashes = {class_list_sha256(v) for v in (names, renamed, swapped)}
    assert len(hashes) == 3
    assert class_list_sha256(['a', 'b']) == hashlib.sha256(b'a\nb').hexdigest()


@pytest.fixture
def compare_reports():
    return load_tool(REPO / 'tools' / 'analysis_tools' / 'compare_reports.py')


def test_compare_same_measurement_other_checkpoint(runs, compare_reports):
    first = runs['IoUMetric'][0]
    second = copy.deepcopy(first)
    second['checkpoint']['sha256'] = '0' * 64
    second['config'] = second['config'].replace("type='FirstRowAsClassZero'",
                                                "type='OtherModel'")
    second['per_class'][1]['IoU'] += 5.0
    same, lines = compare_reports.compare(first, second)
    assert same, lines
    assert any(line.startswith('checkpoint: different') for line in lines)
    assert 'other config differences: model.type' in lines
    iou = first['per_class'][1]['IoU']
    assert lines[lines.index('per class IoU, largest of 5 changes:') +
                 1] == (f'  1 aeroplane: {iou:.2f} -> {iou + 5:.2f} (+5.00)')


@pytest.mark.parametrize('change', ['class name', 'preparation', 'pipeline'])
def test_compare_tells_a_different_measurement(runs, compare_reports, change,
                                               tmp_path):
    first = runs['IoUMetric'][0]
    second = copy.deepcopy(first)
    if change == 'class name':
        names = list(PascalContext459Dataset.METAINFO['classes'])
        names[2] = 'airconditioner'
        second['dataset']['classes_sha256'] = class_list_sha256(names)
        expected = 'classes_sha256: DIFFERENT'
    elif change == 'preparation':
        second['dataset']['preparation']['version'] += 1
        expected = 'preparation: DIFFERENT'
    else:
        second['config'] = second['config'].replace("type='LoadAnnotations16'",
                                                    "type='LoadAnnotations'")
        expected = ('test data and evaluator settings: DIFFERENT: '
                    'dataset.pipeline[1].type')
    paths = []
    for name, report in (('a', first), ('b', second)):
        paths.append(tmp_path / f'{name}.json')
        paths[-1].write_text(json.dumps(report))
    assert compare_reports.main([str(p) for p in paths]) == 1
    same, lines = compare_reports.compare(first, second)
    assert not same
    assert lines[0] == 'same measurement: NO'
    assert expected in '\n'.join(lines)
