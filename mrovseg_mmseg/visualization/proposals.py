"""A picture of mask proposals: one captioned tile per proposal."""
from typing import List, Sequence

import cv2
import numpy as np

FONT, FONT_SCALE, LINE = cv2.FONT_HERSHEY_SIMPLEX, 0.45, 18


def proposal_captions(proposal) -> List[str]:
    """The caption lines of a :class:`~mrovseg_mmseg.apis.Proposal`."""
    return [
        f'#{proposal.index} {proposal.class_name}',
        f'p {proposal.score:.2f}  no object {proposal.no_object:.2f}',
        f'share {100 * proposal.contribution:.1f}%  '
        f'mask {100 * proposal.area:.1f}%'
    ]


def draw_proposals(image: np.ndarray,
                   proposals: Sequence,
                   palette: Sequence[Sequence[int]],
                   *,
                   tile_side: int = 256,
                   columns: int = 4,
                   alpha: float = 0.55) -> np.ndarray:
    """Each proposal's mask over the image, with its caption, in a grid.

    Inside the mask the proposal's best class colour is blended over the
    image and the mask is outlined; outside, the image is dimmed.

    Args:
        image: (H, W, 3) uint8 RGB.
        proposals: :class:`~mrovseg_mmseg.apis.Proposal` items, drawn in
            order, left to right and top to bottom.
        palette: RGB colour per class id.
        tile_side: longer side of each tile's image; small images are
            enlarged (nearest), large ones shrunk (area).
        columns: tiles per row.

    Returns:
        (H', W', 3) uint8 RGB on white.
    """
    height, width = image.shape[:2]
    scale = tile_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_NEAREST if scale >= 1 else cv2.INTER_AREA
    shown = cv2.resize(image, size, interpolation=interpolation)
    dimmed = (0.45 * shown.astype(np.float32) + 0.55 * 40).astype(np.uint8)
    tile_width = max(size[0], 200)
    caption_height = 3 * LINE + 6
    columns = max(1, min(columns, len(proposals)))
    rows = -(-len(proposals) // columns)
    margin = 8
    canvas = np.full((margin + rows * (size[1] + caption_height + margin),
                      margin + columns * (tile_width + margin), 3), 255,
                     np.uint8)
    for number, proposal in enumerate(proposals):
        row, column = divmod(number, columns)
        top = margin + row * (size[1] + caption_height + margin)
        left = margin + column * (tile_width + margin)
        mask = cv2.resize(
            proposal.mask.astype(np.uint8),
            size,
            interpolation=cv2.INTER_NEAREST).astype(bool)
        colour = np.asarray(palette[proposal.class_index], np.float32)
        tile = dimmed.copy()
        tile[mask] = ((1 - alpha) * shown[mask] + alpha * colour).astype(
            np.uint8)
        contours, _ = cv2.findContours(
            mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(tile, contours, -1,
                         tuple(int(c) for c in palette[proposal.class_index]),
                         2)
        canvas[top:top + size[1], left:left + size[0]] = tile
        swatch_top = top + size[1] + 6
        cv2.rectangle(canvas, (left, swatch_top), (left + 12, swatch_top + 12),
                      tuple(int(c) for c in colour), -1)
        cv2.rectangle(canvas, (left, swatch_top), (left + 12, swatch_top + 12),
                      (0, 0, 0), 1)
        for line, text in enumerate(proposal_captions(proposal)):
            indent = 18 if line == 0 else 0
            cv2.putText(canvas, _fit(text, tile_width - indent),
                        (left + indent, top + size[1] + (line + 1) * LINE),
                        FONT, FONT_SCALE, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def _fit(text: str, width: int) -> str:
    """``text``, cut with '...' to fit ``width`` pixels."""
    if cv2.getTextSize(text, FONT, FONT_SCALE, 1)[0][0] <= width:
        return text
    while text and cv2.getTextSize(text + '...', FONT, FONT_SCALE,
                                   1)[0][0] > width:
        text = text[:-1]
    return text + '...'
