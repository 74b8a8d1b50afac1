"""The mask proposals a label map is made of, ranked by their share of it.

Eq. 9 scores class k at pixel x as ``S_k(x) = sum_n p_nk s_n(x)``, with
``p_n = softmax(C_n)`` over the K classes and no object, and ``s_n`` the
sigmoid of mask n at the image's size; the label map is
``k*(x) = argmax_k S_k(x)``. Proposal n's term of the winning score,
``t_n(x) = p_nk*(x) s_n(x)``, sums over the N proposals to ``S_k*(x)(x)``.
Its **contribution** is its share of the label map's whole winning score,

    contribution_n = sum_x t_n(x) / sum_x S_k*(x)(x),

so the N contributions sum to 1. A proposal ranks high when its mask covers
much of the image where the label map shows classes it scores highly; one
whose classes lose everywhere ranks low however large its mask. The terms are
computed a band of rows at a time, as the label map is: only the top
proposals' masks are ever held at the image's full size.
"""
from dataclasses import dataclass
from typing import Iterator, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..models.segmentors.mrovseg import resize_rows


@dataclass(frozen=True)
class Proposal:
    """One mask proposal of an image.

    Attributes:
        index: n, the proposal's query index in the model's output.
        class_index: its best class, ``argmax_k p_nk`` over the K classes
            (no object excluded).
        class_name: that class's name in the vocabulary.
        score: ``p_nk`` for that class: the weight with which its mask enters
            the class's Eq. 9 score.
        no_object: ``p_nK``, the no-object probability.
        contribution: its share of the label map's winning score (module
            doc); the N proposals' shares sum to 1.
        area: fraction of the image's pixels in ``mask``.
        mask: (H, W) bool at the image's size, ``s_n(x) > 0.5``.
    """
    index: int
    class_index: int
    class_name: str
    score: float
    no_object: float
    contribution: float
    area: float
    mask: np.ndarray

    def summary(self) -> dict:
        """The attributes except the mask, rounded, for JSON."""
        return dict(
            index=self.index,
            class_index=self.class_index,
            class_name=self.class_name,
            score=round(self.score, 6),
            no_object=round(self.no_object, 6),
            contribution=round(self.contribution, 6),
            area=round(self.area, 6))


def winning_terms(cls_logits: Tensor, masks: Tensor, label_map: np.ndarray,
                  rows: int) -> Iterator[Tuple[int, Tensor]]:
    """Each proposal's term of the label map's winning score, in bands.

    Args:
        cls_logits: (1, N, K + 1) class logits, last = no object.
        masks: (1, N, h, w) mask logits, resized to the label map's size as
            :func:`~mrovseg_mmseg.models.segmentors.mrovseg.score_rows` does.
        label_map: (H, W) class ids, the argmax of Eq. 9.
        rows: rows per band.

    Yields:
        (first row, (N, r, W) terms ``p_nk*(x) s_n(x)``) for consecutive
        bands of r rows.
    """
    probs = F.softmax(cls_logits, dim=-1)[0]  # (N, K + 1)
    height, width = label_map.shape
    for start in range(0, height, rows):
        stop = min(start + rows, height)
        sigmoid = resize_rows(masks[0], (height, width), start,
                              stop).sigmoid_()  # (N, r, W)
        labels = torch.from_numpy(label_map[start:stop].astype(np.int64))
        # (N, K + 1)[:, (r, W)] -> (N, r, W)
        yield start, sigmoid.mul_(probs[:, labels])


def top_proposals(cls_logits: Tensor,
                  masks: Tensor,
                  label_map: np.ndarray,
                  classes: Sequence[str],
                  top_k: int,
                  pixels_per_chunk: int = 2**14) -> List[Proposal]:
    """The ``top_k`` proposals of largest contribution, largest first.

    Args:
        cls_logits: (1, N, K + 1) class logits, last = no object.
        masks: (1, N, h, w) mask logits (see :func:`winning_terms`).
        label_map: (H, W) class ids the proposals are ranked against.
        classes: the K class names.
        top_k: how many; all N when larger. Ties go to the lower index.
        pixels_per_chunk: output pixels per band.
    """
    if top_k < 1:
        raise ValueError(f'top_k={top_k} must be >= 1')
    height, width = label_map.shape
    rows = max(1, pixels_per_chunk // width)
    num_masks = masks.shape[1]
    sums = torch.zeros(num_masks, dtype=torch.float64)
    for _, terms in winning_terms(cls_logits, masks, label_map, rows):
        sums += terms.flatten(1).sum(dim=1, dtype=torch.float64)  # (N, )
    shares = sums / sums.sum().clamp_min(1e-300)
    order = sorted(range(num_masks), key=lambda n: (-float(shares[n]), n))
    chosen = order[:top_k]
    probs = F.softmax(cls_logits, dim=-1)[0]  # (N, K + 1), as in Eq. 9
    best = probs[:, :-1].argmax(dim=1)  # (N, )
    binary = np.empty((len(chosen), height, width), bool)
    for start in range(0, height, rows):
        stop = min(start + rows, height)
        band = resize_rows(masks[0, chosen], (height, width), start, stop)
        binary[:, start:stop] = (band.sigmoid() > 0.5).numpy()
    return [
        Proposal(
            index=n,
            class_index=int(best[n]),
            class_name=classes[int(best[n])],
            score=float(probs[n, best[n]]),
            no_object=float(probs[n, -1]),
            contribution=float(shares[n]),
            area=float(mask.mean()),
            mask=mask) for n, mask in zip(chosen, binary)
    ]
