"""VocabularyHook in mmengine's loops: training uses the training set's
classes, validation (also between training iterations) and testing their
own dataset's classes."""
import uuid

import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

TRAIN_CLASSES = ('grass', 'road', 'sky')
VAL_CLASSES = ('cat', 'sofa, couch')
TEST_CLASSES = ('tree', 'car', 'person', 'bus')


class NamedDataset(Dataset):
    """Two samples and a metainfo naming ``classes``."""

    def __init__(self, classes) -> None:
        self.metainfo = dict(classes=classes)

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=torch.ones(1), data_samples=index)


class VocabularyRecorder(BaseModel):
    """Keeps a train and a test vocabulary as MROVSeg does and records the
    one each forward pass uses."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(1, 1)
        self.vocabularies = dict(train=None, test=None)
        self.used = []

    def set_vocabulary(self, class_names, mode: str = 'both') -> None:
        modes = ('train', 'test') if mode == 'both' else (mode, )
        for name in modes:
            self.vocabularies[name] = tuple(class_names)

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        kind = 'train' if mode == 'loss' else 'test'
        self.used.append((mode, self.vocabularies[kind]))
        out = self.linear(torch.stack(inputs))
        if mode == 'loss':
            return dict(loss=out.square().mean())
        return list(data_samples)


class CountSamples(BaseMetric):
    """The number of samples evaluated."""

    default_prefix = 'count'

    def process(self, data_batch, data_samples) -> None:
        self.results.extend(data_samples)

    def compute_metrics(self, results) -> dict:
        return dict(samples=len(results))


def loader(classes, sampler: str = 'DefaultSampler') -> dict:
    return dict(
        dataset=NamedDataset(classes),
        sampler=dict(type=sampler, shuffle=False),
        collate_fn=dict(type='pseudo_collate'),
        batch_size=2,
        num_workers=0)


def test_each_loop_uses_its_datasets_classes(tmp_path):
    model = VocabularyRecorder()
    runner = Runner(
        model=model,
        work_dir=str(tmp_path),
        experiment_name=f'vocabulary_{uuid.uuid4().hex}',
        train_dataloader=loader(TRAIN_CLASSES, 'InfiniteSampler'),
        val_dataloader=loader(VAL_CLASSES),
        test_dataloader=loader(TEST_CLASSES),
        val_evaluator=[CountSamples()],
        test_evaluator=[CountSamples()],
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=4, val_interval=2),
        val_cfg=dict(),
        test_cfg=dict(),
        default_hooks=dict(checkpoint=None, logger=None),
        custom_hooks=[dict(type='VocabularyHook')],
        default_scope='mmseg',
        log_level='WARNING')
    runner.train()
    train = ('loss', TRAIN_CLASSES)
    val = ('predict', VAL_CLASSES)
    assert model.used == [train, train, val, train, train, val]
    assert model.vocabularies == dict(train=TRAIN_CLASSES, test=VAL_CLASSES)

    model.used.clear()
    assert runner.test() == {'count/samples': 2}
    assert model.used == [('predict', TEST_CLASSES)]
    assert model.vocabularies == dict(train=TRAIN_CLASSES, test=TEST_CLASSES)
