"""One request of the web demo: validate, segment, draw, write the PNG.

The page's requests share one :class:`OVSegInferencer`. A lock makes them
take turns (the vocabulary is the inferencer's state); the text embeddings
of recent vocabularies stay cached in the model across requests, so only a
new vocabulary is encoded.
"""
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, List, Optional

import numpy as np

from ..apis.inferencer import ClassFound, OVSegInferencer
from ..apis.proposals import Proposal
from ..visualization.proposals import draw_proposals
from .knowledge import ModelKnowledge, unseen_classes, vocabulary_note_html
from .page import (PageInputError, draw_views, fit_for_display, legend_html,
                   parse_class_text, proposals_html, read_image, safe_stem,
                   status_html, summary_text, write_label_png)

Progress = Callable[[float, str], None]
logger = logging.getLogger(__name__)


@dataclass
class PageResult:
    """What the page shows for one request.

    Attributes:
        overlay: (h, w, 3) uint8 RGB, class colours over the image, at
            display size.
        label_colours: (h, w, 3) uint8 RGB, the label map in class colours.
        legend: HTML table of the classes found with area and score.
        label_png: path of the full-size label map PNG (class ids).
        status: HTML summary, with a note when the image was downsized.
        found: the classes present, largest area first.
        proposals: the mask proposals contributing most to the label map,
            largest share first.
        proposals_image: (h, w, 3) uint8 RGB, each proposal's mask over
            the image, captioned; None without proposals.
        proposals_table: HTML table of the proposals.
    """
    overlay: np.ndarray
    label_colours: np.ndarray
    legend: str
    label_png: str
    status: str
    found: List[ClassFound]
    proposals: List[Proposal]
    proposals_image: Optional[np.ndarray]
    proposals_table: str


class PageSegmenter:
    """Serves the page's requests with one inferencer.

    Args:
        inferencer: the model; its vocabulary is replaced per request.
        display_max_side: longer side of the images shown, in pixels.
        max_pixels: larger uploads are refused with a message.
        keep_results: label map PNGs of this many recent requests are kept
            on disk (the page serves them for download).
        num_proposals: mask proposals shown, those contributing most to the
            label map; 0 = none.
        knowledge: what the model knows (training names, CLIP pretrained);
            given, the legend says which classes training saw and
            :meth:`vocabulary_note` names the others.
    """

    def __init__(self,
                 inferencer: OVSegInferencer,
                 *,
                 display_max_side: int = 1024,
                 max_pixels: int = 50_000_000,
                 keep_results: int = 32,
                 num_proposals: int = 8,
                 knowledge: Optional[ModelKnowledge] = None):
        if display_max_side < 16:
            raise ValueError(
                f'display_max_side={display_max_side} must be >= 16')
        if keep_results < 1:
            raise ValueError(f'keep_results={keep_results} must be >= 1')
        if num_proposals < 0:
            raise ValueError(f'num_proposals={num_proposals} must be >= 0')
        self.num_proposals = num_proposals
        self.knowledge = knowledge
        self.inferencer = inferencer
        self.display_max_side = display_max_side
        self.max_pixels = max_pixels
        self.out_dir = tempfile.mkdtemp(prefix='mrovseg_webui_')
        self._recent = deque()
        self._keep_results = keep_results
        self._lock = threading.Lock()

    def segment(self,
                image_path: Optional[str],
                class_text: Optional[str],
                *,
                image_name: Optional[str] = None,
                progress: Optional[Progress] = None) -> PageResult:
        """Segment an uploaded image with the classes typed on the page.

        Args:
            image_path: the uploaded file; None if there is none.
            class_text: the class box, one class per line.
            image_name: the file's name on the user's machine.
            progress: called with (fraction done, what happens now).

        Raises:
            PageInputError: bad input, with the message for the page.
        """
        report = progress or (lambda fraction, text: None)
        name = image_name or 'image'
        report(0.0, 'reading the image')
        image = read_image(image_path, name, max_pixels=self.max_pixels)
        classes = parse_class_text(class_text)
        with self._lock:
            start = time.perf_counter()
            if tuple(classes) != self.inferencer.classes:
                report(0.1, f'encoding {len(classes)} class names')
                try:
                    self.inferencer.set_vocabulary(classes)
                except ValueError as err:
                    raise PageInputError(f'class names: {err}') from err
            report(0.3, 'segmenting')
            result = self.inferencer.predict_image(
                image, name, return_proposals=self.num_proposals)
            seconds = time.perf_counter() - start
            palette = self.inferencer.palette
        report(0.9, 'drawing the result')
        shown_image, shown_labels, shrunk = fit_for_display(
            image, result.label_map, max_side=self.display_max_side)
        overlay, label_colours = draw_views(shown_image, shown_labels,
                                            palette)
        proposals = result.proposals or []
        proposals_image = None
        if proposals:
            side = min(256, self.display_max_side)
            proposals_image = draw_proposals(
                image, proposals, palette, tile_side=side)
        label_png = self._write_png(result.label_map, safe_stem(name))
        summary = summary_text(
            name=name,
            size=image.shape[:2],
            num_found=len(result.found),
            num_classes=len(result.classes),
            seconds=seconds,
            shown=shown_image.shape[:2] if shrunk else None)
        unseen, chance = None, False
        if self.knowledge is not None and self.knowledge.train_classes:
            unseen = unseen_classes(result.classes,
                                    self.knowledge.train_classes)
            chance = self.knowledge.clip_pretrained is False
        return PageResult(
            overlay=overlay,
            label_colours=label_colours,
            legend=legend_html(
                result.found, palette, unseen=unseen, chance=chance),
            label_png=label_png,
            status=status_html(summary),
            found=result.found,
            proposals=proposals,
            proposals_image=proposals_image,
            proposals_table=proposals_html(proposals, palette))

    def respond(self,
                upload: Optional[dict],
                class_text: Optional[str],
                *,
                progress: Optional[Progress] = None) -> tuple:
        """The page's outputs for one click of its button.

        Args:
            upload: the image component's file record (``path``,
                ``orig_name``), None without an image.
            class_text: the class box.

        Returns:
            (overlay, label colours, legend, label map PNG, proposals
            picture, proposals table, status); on failure no result and the
            message in the status.
        """
        upload = upload or {}
        try:
            result = self.segment(
                upload.get('path'),
                class_text,
                image_name=upload.get('orig_name'),
                progress=progress)
        except PageInputError as err:
            return (None, None, '', None, None, '',
                    status_html(str(err), error=True))
        except Exception as err:  # keep serving; show what went wrong
            logger.exception('segmentation failed')
            return (None, None, '', None, None, '',
                    status_html(
                        f'segmentation failed: {type(err).__name__}: {err}',
                        error=True))
        return (result.overlay, result.label_colours, result.legend,
                result.label_png, result.proposals_image,
                result.proposals_table, result.status)

    def vocabulary_note(self, class_text: Optional[str]) -> str:
        """The note under the class box for its current text: the names
        segmentation training never saw (HTML, empty if none or unknown)."""
        if self.knowledge is None:
            return ''
        try:
            classes = parse_class_text(class_text)
        except PageInputError:  # the Segment button names the problem
            return ''
        return vocabulary_note_html(classes, self.knowledge)

    def close(self) -> None:
        """Delete the label map files written so far."""
        shutil.rmtree(self.out_dir, ignore_errors=True)

    def _write_png(self, label_map: np.ndarray, stem: str) -> str:
        """Write into a fresh folder; drop the oldest beyond keep_results."""
        folder = tempfile.mkdtemp(dir=self.out_dir)
        path = os.path.join(folder, f'{stem}_labels.png')
        write_label_png(label_map, path)
        with self._lock:
            self._recent.append(folder)
            while len(self._recent) > self._keep_results:
                shutil.rmtree(self._recent.popleft(), ignore_errors=True)
        return path
