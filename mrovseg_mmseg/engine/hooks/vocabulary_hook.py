"""Hand each dataset's class names to the open-vocabulary model."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS


def _dataset_classes(loop_or_loader) -> Optional[list]:
    loader = getattr(loop_or_loader, 'dataloader', loop_or_loader)
    dataset = getattr(loader, 'dataset', None)
    while dataset is not None and not hasattr(dataset, 'metainfo'):
        dataset = getattr(dataset, 'dataset', None)
    if dataset is None:
        return None
    classes = dataset.metainfo.get('classes')
    return list(classes) if classes else None


@HOOKS.register_module()
class VocabularyHook(Hook):
    """Set the model's train/test vocabulary from the datasets' ``classes``.

    Training uses the training set's classes, validation and testing their
    own: an open-vocabulary model trained on COCO-Stuff is evaluated on
    ADE-847 without rebuilding it.
    """

    priority = 'VERY_HIGH'

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def _set(self, runner, loop, mode: str) -> None:
        classes = _dataset_classes(loop)
        if classes is None:
            raise ValueError(
                f'VocabularyHook: the {mode} dataset has no metainfo '
                "'classes'; set them in the dataset config.")
        self._model(runner).set_vocabulary(classes, mode=mode)

    def before_train(self, runner) -> None:
        self._set(runner, runner.train_loop, 'train')

    def before_val(self, runner) -> None:
        self._set(runner, runner.val_loop, 'test')

    def before_test(self, runner) -> None:
        self._set(runner, runner.test_loop, 'test')
