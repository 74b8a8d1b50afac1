"""How a trained model names the objects its mask proposals find.

The label map mixes two abilities: finding an object with some query's mask
and naming that query. This check separates them on a generated world with
instance maps: for each object it takes the query whose binary mask
(sigmoid > 0.5 at the input size) has the highest IoU with the object;
the object is *found* when that IoU reaches ``min_iou``, and a found
object is named by that query's class logits, among all classes and
between its class and its twin only.
"""
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from ..models.utils.resampling import resize_region


def best_queries(masks: Tensor, instances: np.ndarray,
                 ids: Sequence[int]) -> List[Tuple[int, float]]:
    """(query, IoU) of the best-overlapping query mask of each object.

    Args:
        masks: (N, H, W) bool query masks at the instance map's size.
        instances: (H, W) object ids.
        ids: the objects' ids.
    """
    found = []
    for index in ids:
        target = torch.from_numpy(instances == index).to(masks.device)
        # (N, H, W) -> (N, )
        inter = (masks & target).flatten(1).sum(1).float()
        union = (masks | target).flatten(1).sum(1).float().clamp(min=1)
        iou = inter / union
        query = int(iou.argmax())
        found.append((query, float(iou[query])))
    return found


@torch.no_grad()
def query_naming(model,
                 scenes: Iterable[Tuple[Tensor, np.ndarray, List[dict]]],
                 classes: Sequence[str],
                 twins: Dict[str, str],
                 keep: Optional[Sequence[str]] = None,
                 kinds: Sequence[str] = ('small', 'thin'),
                 min_iou: float = 0.5) -> Dict[str, float]:
    """Found and named objects of the chosen kinds and classes.

    Args:
        model: an MROVSeg with its test vocabulary set to ``classes``.
        scenes: (normalized (1, 3, H, W) input, (H, W) instance map,
            objects list with ``id``, ``name``, ``kind``) per scene.
        twins: class name -> its twin's name.
        keep: class names to count (None = all).

    Returns:
        ``objects``, ``found`` (% with a query of IoU >= ``min_iou``),
        ``mean_best_iou`` (%), and among the found ones ``named`` (% whose
        query's top class is theirs) and ``named_in_pair`` (% whose query
        scores their class above their twin).
    """
    counts = dict(objects=0, found=0, named=0, named_in_pair=0)
    best = []
    for inputs, instances, objects in scenes:
        objects = [
            obj for obj in objects if obj['kind'] in kinds and (
                keep is None or obj['name'] in keep)
        ]
        if not objects:
            continue
        output = model.predict_masks(inputs)
        region = output.mask_region or output.mask_logits.shape[-2:]
        masks = resize_region(output.mask_logits, region,
                              instances.shape)[0].sigmoid() > 0.5
        logits = output.cls_logits[0, :, :-1]  # (N, K), no-object dropped
        for obj, (query, iou) in zip(
                objects, best_queries(masks, instances,
                                      [obj['id'] for obj in objects])):
            counts['objects'] += 1
            best.append(iou)
            if iou < min_iou:
                continue
            counts['found'] += 1
            own = classes.index(obj['name'])
            twin = classes.index(twins[obj['name']])
            counts['named'] += int(logits[query].argmax() == own)
            counts['named_in_pair'] += int(
                logits[query, own] > logits[query, twin])
    found = max(counts['found'], 1)
    return dict(
        objects=counts['objects'],
        found=100 * counts['found'] / max(counts['objects'], 1),
        mean_best_iou=100 * float(np.mean(best)) if best else float('nan'),
        named=100 * counts['named'] / found,
        named_in_pair=100 * counts['named_in_pair'] / found,
        found_count=counts['found'])
