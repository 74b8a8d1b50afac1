"""Two checks of the detail-twin world's premise on its held-out scenes.

A. Model-free (:func:`model_free_check`): per object, its mean colour and
   local contrast at full resolution and in the global view. Expected: small
   and thin detail twins look alike in the global view and differ at full
   resolution; large twins differ in both.
B. Frozen CLIP, nothing learned (:class:`FrozenCLIPProbe`,
   :func:`frozen_clip_probe`): the global [CLS] token copied to one query
   per object names the object through CLIP's remaining blocks, with an
   attention bias of log(coverage) on the global keys only, the slice keys
   only, or both. Expected: small and thin detail twins at chance from the
   global keys, above chance from the slice keys.

The scenes are those of the dataset's val split for a world seed
(:func:`held_out_scenes`).
"""
import math
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from scipy import stats
from torch import Tensor

from ..datasets.detail_twin_world import (CHECKERED_CLASSES, CONTROL_CLASSES,
                                          DETAIL_TWIN_CLASSES, KINDS,
                                          TWIN_CLASSES, TWIN_OF, global_view,
                                          render_twin_scene, world_streams)
from ..models.decode_heads.mask_classifier import MultiGrainedMaskClassifier
from ..models.utils.multi_res_features import (MultiResFeatures,
                                               MultiResLayout)

Scene = Tuple[np.ndarray, np.ndarray, dict]
VIEWS = ('global', 'full')
CONTRAST_MEASURE = ('mean absolute difference between horizontally and '
                    'vertically neighbouring pixels that both lie in the '
                    'object, averaged over RGB, in pixel levels')
PROBE_MODES = ('global', 'slice', 'both')
PROBE_GROUPS: Dict[str, Tuple[str, ...]] = {
    'detail twins': DETAIL_TWIN_CLASSES,
    'checkered': CHECKERED_CLASSES,
    'plain': tuple(name for name in DETAIL_TWIN_CLASSES
                   if name not in CHECKERED_CLASSES),
    'control': CONTROL_CLASSES,
}
ALL_DETAIL_TWINS = 'all detail twins'


def held_out_scenes(seed: int, num_scenes: int) -> List[Scene]:
    """The first ``num_scenes`` scenes of the world's val split for ``seed``
    (the scenes ``DetailTwinWorldDataset`` writes under ``images/val``)."""
    rng = np.random.default_rng(world_streams(seed)['val'])
    return [render_twin_scene(rng) for _ in range(num_scenes)]


def twin_pairs() -> List[Tuple[str, str, str]]:
    """(label, first, second) of every twin or colour pair, in class order:
    ``('red', 'plain red', 'checkered red')``, ...,
    ``('orange / pink', 'orange', 'pink')``, ..."""
    pairs = []
    for index, first in enumerate(TWIN_CLASSES):
        second = TWIN_OF[first]
        if TWIN_CLASSES.index(second) > index:
            label = (first.split()[-1] if first in DETAIL_TWIN_CLASSES else
                     f'{first} / {second}')
            pairs.append((label, first, second))
    return pairs


# ------------------------------------------------------------ A. model-free
def local_contrast(image: np.ndarray, mask: np.ndarray) -> float:
    """Local contrast of ``image`` (H, W, C) inside ``mask`` (H, W).

    The mean absolute difference between horizontally and vertically
    neighbouring pixels that both lie in ``mask``, averaged over channels;
    NaN when the mask holds no such pair.
    """
    image = np.asarray(image, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    across = np.abs(image[:, 1:] - image[:, :-1])[mask[:, 1:] & mask[:, :-1]]
    down = np.abs(image[1:] - image[:-1])[mask[1:] & mask[:-1]]
    diffs = np.concatenate([across, down])  # (pairs, C)
    return float(diffs.mean()) if diffs.size else math.nan


def global_view_mask(mask: np.ndarray) -> np.ndarray:
    """(H, W) object mask -> (H/2, W/2) bool: where the global view's
    resize of the mask (the image's own operator) is at least 0.5."""
    # (H, W) -> (H, W, 1) -> (H/2, W/2, 1) -> (H/2, W/2)
    return global_view(np.asarray(mask, dtype=np.float64)[..., None])[...,
                                                                      0] >= 0.5


def object_statistics(image: np.ndarray, instances: np.ndarray,
                      objects: Sequence[dict]) -> List[dict]:
    """Mean colour and local contrast of every object in both views.

    Args:
        image: (H, W, 3) RGB, uint8 or float; the global view is taken in
            float64 before any rounding (:func:`global_view`).
        instances: (H, W) object ids.
        objects: ``[{'id', 'name', 'kind', ...}]`` as ``render_twin_scene``
            returns them.

    Returns:
        Per object ``{'id', 'name', 'kind', 'global', 'full'}``; a view's
        entry is ``{'pixels', 'colour', 'contrast'}``, or None in the global
        view when no pixel of the resized mask reaches 0.5.
    """
    full = np.asarray(image, dtype=np.float64)
    small = global_view(full)
    rows = []
    for obj in objects:
        mask = instances == obj['id']
        row = dict(id=int(obj['id']), name=obj['name'], kind=obj['kind'])
        for view, pixels, region in (('full', full, mask),
                                     ('global', small,
                                      global_view_mask(mask))):
            if not region.any():
                row[view] = None
                continue
            row[view] = dict(
                pixels=int(region.sum()),
                colour=pixels[region].mean(axis=0).tolist(),
                contrast=local_contrast(pixels, region))
        rows.append(row)
    return rows


def welch_interval(first: Sequence[float], second: Sequence[float],
                   level: float = 0.95) -> Optional[Tuple[float, float,
                                                         float]]:
    """mean(second) - mean(first) with its Welch t interval at ``level``:
    ``(difference, low, high)``; None when a group has fewer than 2 values."""
    a = np.asarray(first, dtype=np.float64)
    b = np.asarray(second, dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        return None
    diff = float(b.mean() - a.mean())
    var_a, var_b = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    error = math.sqrt(var_a + var_b)
    if error == 0:
        return diff, diff, diff
    dof = (var_a + var_b)**2 / (var_a**2 / (len(a) - 1) + var_b**2 /
                                (len(b) - 1))
    half = float(stats.t.ppf(0.5 + level / 2, dof)) * error
    return diff, diff - half, diff + half


def _compare(rows: List[dict], view: str, first: Iterable[str],
             second: Iterable[str]) -> dict:
    """Contrast and colour of the objects named ``first`` vs ``second``."""
    first, second = set(first), set(second)
    seen = [row[view] for row in rows if row[view] is not None]
    names = [row['name'] for row in rows if row[view] is not None]
    groups = []
    for wanted in (first, second):
        entries = [entry for entry, name in zip(seen, names)
                   if name in wanted]
        contrasts = [entry['contrast'] for entry in entries
                     if not math.isnan(entry['contrast'])]
        colour = (np.mean([entry['colour'] for entry in entries], axis=0)
                  if entries else None)
        groups.append((len(entries), contrasts, colour))
    (n_a, contrast_a, colour_a), (n_b, contrast_b, colour_b) = groups
    interval = welch_interval(contrast_a, contrast_b)
    colour_diff = (None if colour_a is None or colour_b is None else
                   (colour_b - colour_a).tolist())
    return dict(
        view=view,
        count_first=n_a,
        count_second=n_b,
        contrast_first=float(np.mean(contrast_a)) if contrast_a else None,
        contrast_second=float(np.mean(contrast_b)) if contrast_b else None,
        contrast_diff=None if interval is None else interval[0],
        contrast_diff_ci95=None if interval is None else list(interval[1:]),
        colour_diff=colour_diff,
        colour_diff_norm=(None if colour_diff is None else float(
            np.linalg.norm(colour_diff))))


def model_free_check(scenes: Iterable[Scene]) -> dict:
    """Compare twins by colour and local contrast in both views.

    Per kind, view and pair (each twin pair, all detail twins pooled, each
    colour pair): object counts, mean contrast of the first class (plain)
    and the second (checkered), their difference ``second - first`` with a
    95% Welch interval, and the difference of their mean colours (RGB
    vector and its norm; the pooled row gives the mean of its pairs' norms
    and no vector, as its pairs' colours differ). In the global view an
    object's pixels are those where its resized mask is at least 0.5;
    objects without such a pixel are left out of it and counted as
    ``not_visible_global``; those without two neighbouring pixels there
    have no contrast (``no_contrast_global``). Counts are of the objects
    seen in the view.

    Returns:
        ``{'contrast_measure', 'objects': {kind: {'total',
        'not_visible_global', 'no_contrast_global'}}, 'rows': [{'kind',
        'view', 'pair', 'first', 'second', 'count_first', 'count_second',
        'contrast_first', 'contrast_second', 'contrast_diff',
        'contrast_diff_ci95', 'colour_diff', 'colour_diff_norm'}]}``.
    """
    rows = []
    for image, _, extra in scenes:
        rows.extend(object_statistics(image, extra['instances'],
                                      extra['objects']))
    pairs = twin_pairs()
    detail_pairs = [label for label, first, _ in pairs
                    if first in DETAIL_TWIN_CLASSES]
    objects, table = {}, []
    for kind in KINDS:
        of_kind = [row for row in rows if row['kind'] == kind]
        objects[kind] = dict(
            total=len(of_kind),
            not_visible_global=sum(row['global'] is None for row in of_kind),
            no_contrast_global=sum(
                row['global'] is not None
                and math.isnan(row['global']['contrast']) for row in of_kind))
        for view in VIEWS:
            by_pair = {
                label: dict(kind=kind, pair=label, first=first,
                            second=second,
                            **_compare(of_kind, view, (first, ), (second, )))
                for label, first, second in pairs
            }
            pooled = dict(
                kind=kind, pair=ALL_DETAIL_TWINS, first='plain *',
                second='checkered *',
                **_compare(of_kind, view, PROBE_GROUPS['plain'],
                           CHECKERED_CLASSES))
            # colours differ between pairs: the pooled row gives the mean
            # of the pairs' colour differences (norms), not their pooling
            norms = [by_pair[label]['colour_diff_norm']
                     for label in detail_pairs
                     if by_pair[label]['colour_diff_norm'] is not None]
            pooled.update(colour_diff=None,
                          colour_diff_norm=float(np.mean(norms))
                          if norms else None)
            table.extend(by_pair[label] for label in detail_pairs)
            table.append(pooled)
            table.extend(row for label, row in by_pair.items()
                         if label not in detail_pairs)
    return dict(contrast_measure=CONTRAST_MEASURE, objects=objects,
                rows=table)


# ------------------------------------------------------- B. frozen CLIP probe
def _overlap_matrix(length: int, tokens: int, pixels: float) -> Tensor:
    """(tokens, length) float64: the share of token i's extent
    ``[i * pixels, (i + 1) * pixels)`` that pixel p fills."""
    starts = torch.arange(tokens, dtype=torch.float64) * pixels
    position = torch.arange(length, dtype=torch.float64)
    overlap = (torch.minimum(starts[:, None] + pixels, position[None] + 1) -
               torch.maximum(starts[:, None], position[None])).clamp(min=0)
    return overlap / pixels


def token_coverage(masks: Tensor, token_pixels: Tuple[float, float],
                   grid: Tuple[int, int]) -> Tensor:
    """Fraction of every token's pixels that a mask covers.

    Average pooling of the masks onto a token grid that starts at the
    image's top-left corner, ``token_pixels`` (y, x) image pixels per token
    (fractions are shared exactly); pixels of a token past the image count
    as uncovered.

    Args:
        masks: (..., H, W) masks, bool or float in [0, 1].
        grid: (h, w) tokens.

    Returns:
        (..., h, w) float32.
    """
    rows = _overlap_matrix(masks.shape[-2], grid[0], float(token_pixels[0]))
    cols = _overlap_matrix(masks.shape[-1], grid[1], float(token_pixels[1]))
    rows, cols = rows.to(masks.device), cols.to(masks.device)
    # (h, H) x (..., H, W) x (w, W) -> (..., h, w)
    coverage = torch.einsum('ih,...hw,jw->...ij', rows,
                            masks.to(torch.float64), cols)
    return coverage.float()


def coverage_biases(masks: Tensor, layout: MultiResLayout, num_heads: int,
                    mode: str) -> Tuple[Tensor, Tensor]:
    """Attention biases log(coverage) of one query per mask.

    Args:
        masks: (B, N, H, W) object masks over the input image.
        layout: the backbone's token grids.
        num_heads: CLIP attention heads (the bias is the same for all).
        mode: ``'global'`` (slice keys -inf), ``'slice'`` (global keys -inf)
            or ``'both'``.

    Returns:
        ``global_bias`` (B, heads, N, h*w) and ``local_bias``
        (B, heads, N, H'*W') over the slice canvas, as
        :meth:`MultiGrainedMaskClassifier.embed` takes them; -inf where a
        token shows none of the mask.
    """
    if mode not in PROBE_MODES:
        raise ValueError(f'mode={mode!r}: use one of {PROBE_MODES}.')
    if not layout.has_slices:
        raise ValueError('the backbone has no slices (slice_ratio=0): the '
                         'probe compares global keys with slice keys.')
    biases = []
    for pixels, grid, used in (
            (layout.global_token_pixels, layout.token_grid, mode != 'slice'),
            (layout.slice_token_pixels, layout.slice_grid, mode != 'global')):
        coverage = token_coverage(masks, pixels, grid)  # (B, N, h, w)
        bias = coverage.log() if used else torch.full_like(
            coverage, float('-inf'))
        # (B, N, h, w) -> (B, N, h*w) -> (B, heads, N, h*w)
        bias = bias.flatten(2)[:, None].expand(-1, num_heads, -1, -1)
        biases.append(bias)
    return biases[0], biases[1]


class FrozenCLIPProbe(nn.Module):
    """Name masked regions with a frozen CLIP and nothing learned.

    A :class:`MultiGrainedMaskClassifier` with zero query position
    embedding, no [CLS] key and one query per region; its attention bias on
    a key is log of the share of the key's token the region covers
    (:func:`coverage_biases`). Regions are named by cosine similarity with
    the class embeddings.

    Args:
        backbone: a :class:`MultiResCLIPViT` with slices and a classifier
            start block.
        text_encoder: an :class:`OpenCLIPTextEncoder` of the same CLIP.
        class_names: the K classes.
        mean, std: RGB normalization of the model's data preprocessor.
        size: (H, W) the preprocessor pads batches to (bottom and right,
            with 0 after normalization); None = no padding.
    """

    def __init__(self, backbone: nn.Module, text_encoder: nn.Module,
                 class_names: Sequence[str], *, mean: Sequence[float],
                 std: Sequence[float],
                 size: Optional[Tuple[int, int]] = None):
        super().__init__()
        if getattr(backbone, 'classifier_start_block', None) is None:
            raise ValueError('the probe needs a backbone with a classifier '
                             'start block (classifier_start_block=None).')
        self.backbone = backbone.eval()
        self.class_names = tuple(class_names)
        with torch.no_grad():
            self.register_buffer('text_embeds',
                                 text_encoder(list(class_names)).clone())
        self.register_buffer('mean', torch.tensor(mean).view(3, 1, 1))
        self.register_buffer('std', torch.tensor(std).view(3, 1, 1))
        self.size = None if size is None else tuple(size)
        self._classifiers: Dict[int, MultiGrainedMaskClassifier] = {}

    def classifier(self, num_queries: int) -> MultiGrainedMaskClassifier:
        """The learning-free classifier for ``num_queries`` regions."""
        if num_queries not in self._classifiers:
            classifier = MultiGrainedMaskClassifier(
                num_queries=num_queries, embed_dims=self.backbone.embed_dims,
                proj_dims=self.text_embeds.shape[1], use_local_tokens=True,
                attend_cls_key=False)
            with torch.no_grad():
                classifier.query_pos.zero_()
            self._classifiers[num_queries] = classifier.to(
                self.text_embeds.device).eval()
        return self._classifiers[num_queries]

    def preprocess(self, images: np.ndarray) -> Tensor:
        """(B, H, W, 3) RGB (uint8 or float levels) -> (B, 3, H', W')
        normalized and padded like the model's data preprocessor."""
        x = torch.as_tensor(np.asarray(images, dtype=np.float32),
                            device=self.mean.device)
        x = x.permute(0, 3, 1, 2)  # (B, H, W, 3) -> (B, 3, H, W)
        x = (x - self.mean) / self.std
        if self.size is not None:
            pad_h, pad_w = (max(0, want - have) for want, have in zip(
                self.size, x.shape[-2:]))
            x = F.pad(x, (0, pad_w, 0, pad_h))
        return x

    @torch.no_grad()
    def features(self, images: np.ndarray) -> MultiResFeatures:
        """Backbone features of (B, H, W, 3) RGB images."""
        return self.backbone(self.preprocess(images))

    @torch.no_grad()
    def embed(self, features: MultiResFeatures, masks: Tensor,
              mode: str) -> Tensor:
        """Unit CLIP embedding of every region.

        Args:
            masks: (B, N, H, W) region masks over the unpadded images.
            mode: which keys the queries see, see :func:`coverage_biases`.

        Returns:
            (B, N, proj_dims).
        """
        layout = features.layout
        masks = masks.to(self.text_embeds.device, torch.float32)
        height, width = masks.shape[-2:]
        if (height, width) != tuple(layout.image_size):
            # the padding shows no region
            masks = F.pad(
                masks, (0, layout.image_size[1] - width, 0,
                        layout.image_size[0] - height))
        global_bias, local_bias = coverage_biases(
            masks, layout, self.backbone.num_heads, mode)
        seen = (global_bias[:, 0] > float('-inf')).any(-1) | (
            local_bias[:, 0] > float('-inf')).any(-1)  # (B, N)
        if not bool(seen.all()):
            raise ValueError(f'mode={mode!r}: a mask covers no token the '
                             'probe attends to (an empty mask?).')
        classifier = self.classifier(masks.shape[1])
        return classifier.embed(features, global_bias, local_bias)

    def logits(self, features: MultiResFeatures, masks: Tensor,
               mode: str) -> Tensor:
        """(B, N, K) cosine similarities of every region with the classes."""
        embeds = self.embed(features, masks, mode)
        # (B, N, D) x (K, D) -> (B, N, K)
        return torch.einsum('bnd,kd->bnk', embeds,
                            self.text_embeds.to(embeds.dtype))


def build_frozen_clip_probe(model_cfg: dict,
                            *,
                            clip: Optional[str] = None,
                            random_clip: bool = False,
                            seed: int = 0,
                            class_names: Sequence[str] = TWIN_CLASSES,
                            device: str = 'cpu') -> FrozenCLIPProbe:
    """The probe of an MROVSeg model config (``cfg.model``).

    Only its backbone and text encoder are built, with the config's CLIP
    and templates. ``clip`` replaces ``pretrained`` of both;
    ``random_clip`` sets it to None and builds both from the same torch
    seed, so that the two towers come from one random CLIP.
    """
    if clip is not None and random_clip:
        raise ValueError('give either clip=PATH or random_clip=True.')
    backbone_cfg = dict(model_cfg['backbone'])
    text_cfg = dict(model_cfg['text_encoder'])
    if clip is not None or random_clip:
        backbone_cfg['pretrained'] = text_cfg['pretrained'] = clip
    preprocessor = model_cfg.get('data_preprocessor') or {}
    for key in ('mean', 'std'):
        if preprocessor.get(key) is None:
            raise ValueError(f'model.data_preprocessor.{key} is not set; the '
                             'probe normalizes images as the model does.')
    if random_clip:
        torch.manual_seed(seed)
    backbone = MODELS.build(backbone_cfg)
    if random_clip:
        torch.manual_seed(seed)
    text_encoder = MODELS.build(text_cfg)
    size = preprocessor.get('size')
    probe = FrozenCLIPProbe(
        backbone.to(device), text_encoder.to(device), class_names,
        mean=preprocessor['mean'], std=preprocessor['std'],
        size=None if size is None else tuple(size))
    return probe.to(device)


def _wilson(successes: int, count: int) -> Optional[List[float]]:
    """95% Wilson interval of a proportion; None without trials."""
    if count == 0:
        return None
    z = 1.959963984540054
    p = successes / count
    centre = (p + z * z / (2 * count)) / (1 + z * z / count)
    half = z * math.sqrt(p * (1 - p) / count + z * z /
                         (4 * count * count)) / (1 + z * z / count)
    return [centre - half, centre + half]


def frozen_clip_probe(probe: FrozenCLIPProbe, scenes: Sequence[Scene],
                      batch_size: int = 16) -> dict:
    """Name every object of ``scenes`` (all of one size) from each probe
    mode.

    Per mode, kind and group (``PROBE_GROUPS``): the number of objects, the
    K-way accuracy and the pairwise twin accuracy (the object's class
    against ``TWIN_OF`` of it only; chance 50%) with its 95% Wilson
    interval.

    Returns:
        ``{'classes', 'modes', 'rows': [{'mode', 'kind', 'group', 'count',
        'correct', 'accuracy', 'twin_correct', 'twin_accuracy',
        'twin_ci95'}]}``.
    """
    names = probe.class_names
    twin_index = torch.tensor([names.index(TWIN_OF[name]) for name in names])
    records = []  # (mode, kind, name, correct, twin correct)
    for start in range(0, len(scenes), batch_size):
        batch = scenes[start:start + batch_size]
        images = np.stack([image for image, _, _ in batch])
        num_queries = max(len(extra['objects']) for _, _, extra in batch)
        # regions of scenes with fewer objects than num_queries: the whole
        # image (their results are not read)
        masks = torch.ones(len(batch), num_queries, *images.shape[1:3],
                           dtype=torch.bool)
        for index, (_, _, extra) in enumerate(batch):
            for query, obj in enumerate(extra['objects']):
                masks[index, query] = torch.from_numpy(
                    extra['instances'] == obj['id'])
        features = probe.features(images)
        for mode in PROBE_MODES:
            logits = probe.logits(features, masks, mode).cpu()  # (B, N, K)
            for index, (_, _, extra) in enumerate(batch):
                for query, obj in enumerate(extra['objects']):
                    scores = logits[index, query]
                    label = names.index(obj['name'])
                    records.append(
                        (mode, obj['kind'], obj['name'],
                         int(scores.argmax()) == label,
                         bool(scores[label] > scores[twin_index[label]])))
    rows = []
    for mode in PROBE_MODES:
        for kind in KINDS:
            for group, members in PROBE_GROUPS.items():
                hits = [(correct, twin) for m, k, name, correct, twin in
                        records if m == mode and k == kind and name in members]
                count = len(hits)
                correct = sum(hit[0] for hit in hits)
                twin = sum(hit[1] for hit in hits)
                rows.append(dict(
                    mode=mode, kind=kind, group=group, count=count,
                    correct=correct,
                    accuracy=correct / count if count else None,
                    twin_correct=twin,
                    twin_accuracy=twin / count if count else None,
                    twin_ci95=_wilson(twin, count)))
    return dict(
        classes=list(names),
        modes={
            'global': 'global-view keys only (slice keys -inf)',
            'slice': 'slice keys only (global keys -inf)',
            'both': 'global-view and slice keys',
        },
        rows=rows)
