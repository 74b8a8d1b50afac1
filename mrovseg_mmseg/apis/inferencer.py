"""Open-vocabulary inference on the user's images with the user's words.

    inferencer = OVSegInferencer('configs/mrovseg_tiny_shapes64.py', 'a.pth')
    inferencer.set_vocabulary(['sky', 'tree', 'sofa, couch'])
    result = inferencer('photo.jpg')[0]  # result.label_map, result.areas

Preprocessing is the config's test pipeline (``test_pipeline``, else
``test_dataloader.dataset.pipeline``) without its loading steps, applied to
the image read by :func:`load_image`; a config without one gets mmseg's usual
evaluation resize, ``Resize(scale=(4 * base_size, base_size),
keep_ratio=True)``. The model thus sees the image at its evaluation scale, and
the slice grid follows the resized image's aspect ratio. Mask logits are then
resized to the original image a band of rows at a time
(:func:`~mrovseg_mmseg.models.segmentors.mrovseg.score_rows`), so an
8000x6000 photo never holds a (queries, H, W) or (classes, H, W) float
tensor; CLIP views go through the backbone ``views_per_pass`` at a time.
``return_proposals=k`` also reports the k mask proposals that contribute
most to the label map (:mod:`.proposals`), scored band by band the same way.
"""
import copy
import os
import pickle
import re
import warnings
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from torch import Tensor

from ..models.segmentors.mrovseg import score_rows, without_padding
from ..models.text_encoders.vocabulary import parse_vocabulary
from ..utils.precision import check_precision, precision_autocast
from ..visualization.overlay import make_palette
from .image_io import (FailedInput, ImageInput, ImageLoadError, array_to_rgb,
                       collect_inputs, load_image)
from .proposals import Proposal, top_proposals

MAX_CLASSES = 65535  # label maps are uint16 above 255 classes


@dataclass(frozen=True)
class ClassFound:
    """A class present in a label map.

    Attributes:
        index: the class id in the label map.
        name: the class name as given in the vocabulary.
        area: fraction of the image's pixels labelled with the class.
        score: mean probability of the class over those pixels.
    """
    index: int
    name: str
    area: float
    score: float


@dataclass
class OVSegResult:
    """The prediction for one image.

    Attributes:
        source: the file path, or ``'<array i>'``.
        label_map: (H, W) class ids at the original size, uint8 for up to 255
            classes, else uint16.
        classes: the K class names the ids refer to.
        found: the classes present, largest area first.
        prob_maps: (K, H, W) uint8 per-class probabilities x 255 (the Eq. 9
            scores normalized over classes), with ``return_probs``.
        image: (H, W, 3) uint8 RGB input as read, with ``keep_image``.
        proposals: with ``return_proposals=k``, the k mask proposals that
            contribute most to the label map, largest share first (see
            :mod:`~mrovseg_mmseg.apis.proposals`).
    """
    source: str
    label_map: np.ndarray
    classes: Tuple[str, ...]
    found: List[ClassFound]
    prob_maps: Optional[np.ndarray] = None
    image: Optional[np.ndarray] = None
    proposals: Optional[List[Proposal]] = None

    @property
    def areas(self) -> Dict[str, float]:
        """Class name -> pixel fraction, for the classes found."""
        return {item.name: item.area for item in self.found}

    @property
    def scores(self) -> Dict[str, float]:
        """Class name -> mean probability over its pixels."""
        return {item.name: item.score for item in self.found}


class BatchInferenceError(RuntimeError):
    """Some inputs failed; every other input was processed.

    Attributes:
        failed: the :class:`FailedInput` items, in input order.
        results: the :class:`OVSegResult` of the inputs that worked.
    """

    def __init__(self, failed: List[FailedInput], results: List[OVSegResult]):
        self.failed = failed
        self.results = results
        lines = '\n'.join(f'  {item.source}: {item.error}' for item in failed)
        super().__init__(f'{len(failed)} of {len(failed) + len(results)} '
                         f'inputs failed:\n{lines}')


@dataclass(frozen=True)
class CheckpointReport:
    """How a checkpoint's state dict matched the model."""
    path: str
    missing_keys: Tuple[str, ...]
    unexpected_keys: Tuple[str, ...]

    def describe(self) -> str:
        parts = []
        for keys, what in ((self.missing_keys, 'missing keys, left as '
                            'initialized'), (self.unexpected_keys,
                                             'unexpected keys, ignored')):
            if keys:
                shown = ', '.join(
                    keys[:10]) + (' ...' if len(keys) > 10 else '')
                parts.append(f'{len(keys)} {what}: {shown}')
        return f'checkpoint {self.path!r}: ' + ('; '.join(parts) or 'all '
                                                'keys matched')


class OVSegInferencer:
    """Segment any image with any vocabulary using an MROVSeg model.

    Args:
        config: config file or :class:`Config` (copied, not modified).
        checkpoint: weights saved by training (``state_dict`` + ``meta``),
            loaded with ``torch.load(weights_only=True)``; missing and
            unexpected keys are reported with a warning (see
            :attr:`checkpoint_report`). None = the config's weights (e.g. an
            open_clip pretrained CLIP) as built. CLIP weights present in the
            checkpoint replace the config's ``pretrained`` ones, which are
            then not loaded at all.
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'`` ...; None = GPU if any.
        precision: ``'fp32'``, or autocast with ``'fp16'`` (GPU only) or
            ``'bf16'`` (checked by
            :func:`~mrovseg_mmseg.utils.precision.check_precision`); mask
            resizing and scoring always run in float32.
        vocabulary: class names (synonyms comma-separated); None = the
            config's ``model.vocabulary``, else the checkpoint's dataset
            classes, else call :meth:`set_vocabulary` before inference.
        cache_dir: folder of the on-disk text embedding cache (overrides
            ``model.text_encoder.cache_dir``); embeddings are also cached in
            memory per vocabulary.
        scale: (long, short) bound of the keep-ratio test resize, replacing
            the test pipeline's ``Resize`` scale; None = the pipeline's.
        views_per_pass: CLIP views (global view + slices) per backbone pass;
            None = the config's ``max_views_per_pass``.
        pixels_per_chunk: output pixels scored at once; the scoring memory is
            about (queries + 2 * classes) x 4 bytes x this.
        cfg_options: config overrides, e.g.
            ``{'model.backbone.pretrained': None}``.
    """

    def __init__(self,
                 config: Union[str, os.PathLike, Config],
                 checkpoint: Optional[str] = None,
                 *,
                 device: Optional[str] = None,
                 precision: str = 'fp32',
                 vocabulary: Optional[Sequence[str]] = None,
                 cache_dir: Optional[str] = None,
                 scale: Optional[Tuple[int, int]] = None,
                 views_per_pass: Optional[int] = 8,
                 pixels_per_chunk: int = 2**14,
                 cfg_options: Optional[dict] = None):
        self.device = _parse_device(device)
        self.precision = check_precision(precision, self.device)
        if pixels_per_chunk < 1:
            raise ValueError(
                f'pixels_per_chunk={pixels_per_chunk} must be >= 1.')
        if views_per_pass is not None and views_per_pass < 1:
            raise ValueError(f'views_per_pass={views_per_pass} must be >= 1.')
        self.pixels_per_chunk = pixels_per_chunk
        cfg = _load_config(config, cfg_options)
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        state, meta = (
            {}, {}) if checkpoint is None else read_checkpoint(checkpoint)
        for part in ('backbone', 'text_encoder'):
            if any(key.startswith(part + '.') for key in state):
                cfg.model[part]['pretrained'] = None
        if cache_dir is not None:
            cfg.model.text_encoder['cache_dir'] = cache_dir
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)  # same random parts at every build
            self.model = MODELS.build(cfg.model)
        self.checkpoint_report = None
        # what training recorded (mmengine's runner: cfg, dataset_meta ...)
        self.checkpoint_meta: dict = dict(meta)
        if checkpoint is not None:
            self.checkpoint_report = self._load_state(state, checkpoint)
        self.model.to(self.device).eval()
        if views_per_pass is not None:
            self.model.backbone.max_views_per_pass = views_per_pass
        self.pipeline = _build_pipeline(cfg, self.model.backbone.base_size,
                                        scale)
        self.classes: Tuple[str, ...] = ()
        self.palette: List[List[int]] = []
        if vocabulary is None:
            vocabulary = _config_vocabulary(self.model)
        if vocabulary is None:
            vocabulary = (meta.get('dataset_meta') or {}).get('classes')
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    # ------------------------------------------------------------ vocabulary
    def set_vocabulary(self, class_names: Sequence[str]) -> None:
        """Predict ``class_names`` from now on (no rebuild).

        Args:
            class_names: K names; commas separate synonyms (``'sofa, couch'``).
                Embeddings are computed now, or taken from the memory or disk
                cache.

        Raises:
            ValueError: empty vocabulary, blank or duplicate name (naming it),
                or more than 65535 classes.
        """
        parse_vocabulary(class_names)
        names = tuple(class_names)
        if len(names) > MAX_CLASSES:
            raise ValueError(f'the vocabulary has {len(names)} classes; label '
                             f'maps hold at most {MAX_CLASSES}.')
        self.model.set_vocabulary(list(names), mode='test')
        with torch.no_grad():
            self.model.text_embeds('test')
        self.classes = names
        self.palette = make_palette(len(names))

    # ------------------------------------------------------------- inference
    def __call__(self,
                 inputs: Union[ImageInput, Sequence[ImageInput]],
                 *,
                 return_probs: bool = False,
                 return_proposals: int = 0) -> List[OVSegResult]:
        """Segment images.

        Args:
            inputs: image path, folder, glob pattern, (H, W[, C]) RGB array,
                or a list of these (see :func:`collect_inputs`).
            return_probs: also return per-class probability maps.
            return_proposals: also return this many mask proposals, those
                contributing most to the label map (about one more scoring
                pass); 0 = none.

        Returns:
            One result per image, in input order.

        Raises:
            BatchInferenceError: after all inputs were tried, if some failed;
                it names each and holds the other results.
        """
        results, failed = [], []
        for outcome in self.iter_results(
                inputs,
                return_probs=return_probs,
                return_proposals=return_proposals):
            if isinstance(outcome, FailedInput):
                failed.append(outcome)
            else:
                results.append(outcome)
        if failed:
            raise BatchInferenceError(failed, results)
        return results

    def iter_results(
            self,
            inputs: Union[ImageInput, Sequence[ImageInput]],
            *,
            return_probs: bool = False,
            return_proposals: int = 0,
            keep_image: bool = False
    ) -> Iterator[Union[OVSegResult, FailedInput]]:
        """Like ``__call__``, one image at a time; failures are yielded as
        :class:`FailedInput` instead of raised."""
        self._check_vocabulary()
        _check_proposals(return_proposals)
        for item in collect_inputs(inputs):
            if isinstance(item, FailedInput):
                yield item
                continue
            source = item if isinstance(item, str) else item.source
            try:
                outcome = self.predict_image(
                    load_image(item),
                    source,
                    return_probs=return_probs,
                    return_proposals=return_proposals,
                    keep_image=keep_image)
            except Exception as err:  # report, go on with the next image
                outcome = FailedInput(source, _describe(err))
            yield outcome

    def predict_image(self,
                      image: np.ndarray,
                      source: str = '<array>',
                      *,
                      return_probs: bool = False,
                      return_proposals: int = 0,
                      keep_image: bool = False) -> OVSegResult:
        """Segment one image of any size.

        Args:
            image: (H, W) or (H, W, C) RGB(A) array, see
                :func:`~mrovseg_mmseg.apis.image_io.array_to_rgb`.
            source: the name the result is reported under.
            return_probs: also fill ``prob_maps``.
            return_proposals: also fill ``proposals`` with this many.
            keep_image: also return the (H, W, 3) uint8 RGB image.
        """
        self._check_vocabulary()
        _check_proposals(return_proposals)
        rgb = array_to_rgb(image, source)
        height, width = rgb.shape[:2]
        packed = self.pipeline(
            dict(
                img=np.ascontiguousarray(rgb[..., ::-1]),
                img_path=source,
                img_shape=(height, width),
                ori_shape=(height, width)))
        with torch.inference_mode():
            data = self.model.data_preprocessor(
                dict(
                    inputs=[packed['inputs']],
                    data_samples=[packed['data_samples']]), False)
            del packed
            inputs, cropped = self.model.crop_padding(data['inputs'],
                                                      data['data_samples'])
            meta = data['data_samples'][0].metainfo
            if cropped:
                meta = without_padding(meta)
            with precision_autocast(self.precision, self.device):
                output = self.model.predict_masks(inputs)
            masks = self.model.restore_masks(
                output.mask_logits.float(), inputs.shape[-2:], meta,
                output.mask_region)  # (1, N, h, w)
            cls_logits = output.cls_logits.float()
            label_map, found, prob_maps = self._score(cls_logits, masks,
                                                      (height, width),
                                                      return_probs)
            proposals = None
            if return_proposals:
                proposals = top_proposals(cls_logits, masks, label_map,
                                          self.classes, return_proposals,
                                          self.pixels_per_chunk)
        return OVSegResult(
            source=source,
            label_map=label_map,
            classes=self.classes,
            found=found,
            prob_maps=prob_maps,
            image=rgb if keep_image else None,
            proposals=proposals)

    def _score(self, cls_logits: Tensor, masks: Tensor,
               out_size: Tuple[int, int], return_probs: bool):
        """Label map, classes found and probabilities, a band at a time.

        Args:
            cls_logits: (1, N, K + 1).
            masks: (1, N, h, w) mask logits at the model input.
            out_size: (H, W) of the original image.
        """
        height, width = out_size
        num_classes = len(self.classes)
        label_map = np.empty(out_size, label_dtype(num_classes))
        prob_maps = None
        if return_probs:
            prob_maps = np.empty((num_classes, height, width), np.uint8)
        counts = torch.zeros(num_classes, dtype=torch.float64)
        prob_sums = torch.zeros(num_classes, dtype=torch.float64)
        rows = max(1, self.pixels_per_chunk // width)
        for start, scores in score_rows(cls_logits, masks, out_size, rows):
            stop = start + scores.shape[0]
            scores = scores.flatten(0, 1)  # (r, W, K) -> (P, K)
            totals = scores.sum(dim=1).clamp_min(1e-12)  # (P, )
            best, labels = scores.max(dim=1)  # (P, )
            labels = labels.cpu()
            counts.index_add_(0, labels,
                              torch.ones(labels.shape, dtype=torch.float64))
            prob_sums.index_add_(0, labels, best.div_(totals).cpu().double())
            label_map[start:stop] = labels.view(stop - start, width).numpy()
            if prob_maps is not None:
                probs = scores.div_(totals[:, None]).mul_(255).round_()
                # (P, K) -> (K, P) -> (K, r, W)
                prob_maps[:, start:stop] = probs.to(torch.uint8).t().reshape(
                    -1, stop - start, width).cpu().numpy()
        total = float(height * width)
        found = [
            ClassFound(index, self.classes[index],
                       float(counts[index]) / total,
                       float(prob_sums[index] / counts[index]))
            for index in counts.nonzero().flatten().tolist()
        ]
        found.sort(key=lambda item: (-item.area, item.index))
        return label_map, found, prob_maps

    # --------------------------------------------------------------- helpers
    def _check_vocabulary(self) -> None:
        if not self.classes:
            raise RuntimeError(
                'OVSegInferencer has no vocabulary: pass vocabulary=[...] or '
                "call set_vocabulary(['sky', 'tree', 'sofa, couch']).")

    def _load_state(self, state: Dict[str, Tensor],
                    path: str) -> CheckpointReport:
        try:
            incompatible = self.model.load_state_dict(state, strict=False)
        except RuntimeError as err:
            raise ValueError(f'checkpoint {path!r} does not fit the model of '
                             f'the config: {err}') from err
        # CLIP parts absent from the checkpoint keep the config's weights
        absent = tuple(
            part for part in ('backbone.', 'text_encoder.')
            if not any(key.startswith(part) for key in state))
        missing = tuple(
            key for key in incompatible.missing_keys
            if not key.startswith(absent))
        report = CheckpointReport(path, missing,
                                  tuple(incompatible.unexpected_keys))
        if report.missing_keys or report.unexpected_keys:
            warnings.warn(report.describe())
        return report


def _config_vocabulary(model) -> Optional[List[str]]:
    try:
        return model.vocabulary('test')
    except RuntimeError:  # the config sets none
        return None


def _check_proposals(count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f'return_proposals={count!r}: give a count >= 0')


def label_dtype(num_classes: int) -> type:
    """uint8 for up to 255 classes, else uint16."""
    return np.uint8 if num_classes <= 255 else np.uint16


def read_checkpoint(path: str) -> Tuple[Dict[str, Tensor], dict]:
    """Weights-only load of a checkpoint: (state dict, meta).

    Raises:
        FileNotFoundError, ValueError: naming the file.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint {path!r} does not exist')
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r'Unsupported global: GLOBAL (\S+)', str(err))
        what = f' (it holds {found.group(1)})' if found else ''
        raise ValueError(
            f'checkpoint {path!r} cannot be loaded with torch.load('
            f'weights_only=True){what}: it stores Python objects besides '
            'tensors. Checkpoints written with SafeCheckpointHook load '
            "safely; for a file you trust, save its 'state_dict' and 'meta' "
            'alone with torch.save.') from err
    except Exception as err:
        raise ValueError(f'cannot read checkpoint {path!r}: '
                         f'{_describe(err)}') from err
    if not isinstance(checkpoint, dict):
        raise ValueError(f'checkpoint {path!r} holds a '
                         f'{type(checkpoint).__name__}, not a dict')
    state = checkpoint.get('state_dict', checkpoint)
    state = {
        (key[len('module.'):] if key.startswith('module.') else key): value
        for key, value in state.items() if isinstance(value, Tensor)
    }
    if not state:
        raise ValueError(f'checkpoint {path!r} holds no tensors')
    meta = checkpoint.get('meta')
    return state, meta if isinstance(meta, dict) else {}


def _load_config(config: Union[str, os.PathLike, Config],
                 cfg_options: Optional[dict]) -> Config:
    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
    elif isinstance(config, (str, os.PathLike)):
        if not os.path.isfile(config):
            raise FileNotFoundError(f'config {os.fspath(config)!r} does not '
                                    'exist')
        cfg = Config.fromfile(os.fspath(config))
    else:
        raise TypeError(f'config must be a path or a Config, got '
                        f'{type(config).__name__}')
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('model', {}).get('type') != 'MROVSeg':
        raise ValueError(f'config {getattr(cfg, "filename", None)!r}: '
                         'model.type must be MROVSeg')
    return cfg


def _build_pipeline(cfg: Config, base_size: int,
                    scale: Optional[Tuple[int, int]]) -> Compose:
    """The test pipeline without its loading steps (see module doc)."""
    steps = cfg.get('test_pipeline') or cfg.get('test_dataloader', {}).get(
        'dataset', {}).get('pipeline')
    if not steps:
        steps = [
            dict(
                type='Resize',
                scale=(4 * base_size, base_size),
                keep_ratio=True),
            dict(type='PackSegInputs')
        ]
    steps = [
        copy.deepcopy(dict(step)) for step in steps
        if not str(step['type']).startswith('Load')
    ]
    if scale is not None:
        resizes = [step for step in steps if step['type'] == 'Resize']
        if not resizes:
            raise ValueError(f'scale={scale}: the test pipeline has no '
                             f'Resize step to set it on ({steps})')
        for step in resizes:
            step.update(scale=tuple(scale), keep_ratio=True)
    return Compose(steps)


def _parse_device(device: Optional[str]) -> torch.device:
    if device is None:
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f'device={device!r} is not a torch device') from err
    if parsed.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError(f'device={device!r}: torch sees no CUDA GPU')
    return parsed


def _describe(err: Exception) -> str:
    if isinstance(err, ImageLoadError):
        return str(err)
    return f'{type(err).__name__}: {err}'
