"""The gradio page: inputs on the left, results on the right.

Everything the page computes is in :mod:`.page` and :mod:`.segmenter`; this
module only lays out components and wires the events. Requests are queued
and run one at a time; analytics and the version check are off, and every
asset (scripts, styles, fonts) is served by the app itself.
"""
from typing import Optional, Sequence

import gradio as gr

from .page import PRESETS, PROPOSALS_NOTE, class_text
from .segmenter import PageSegmenter

CSS = """
#overlay img, #label-map img { image-rendering: pixelated; }
.mrovseg-legend .swatch { display: inline-block; width: 1.1em;
    height: 1.1em; border: 1px solid #333; vertical-align: middle; }
.mrovseg-legend td, .mrovseg-legend th { padding: 2px 10px; }
.mrovseg-legend td.area, .mrovseg-legend td.score, .mrovseg-legend td.id {
    text-align: right; font-variant-numeric: tabular-nums; }
.mrovseg-status.error { color: #b00020; }
.mrovseg-vocabulary { padding: 4px 8px; border-radius: 4px; }
.mrovseg-vocabulary.open { background: #eef4ff; }
.mrovseg-vocabulary.warning { background: #fdecee; color: #b00020; }
.mrovseg-legend td.training.unseen { font-weight: bold; }
"""
CLASS_HELP = ('One class per line; commas separate synonyms of one class '
              "('sofa, couch'); # starts a comment.")


def build_app(segmenter: PageSegmenter,
              *,
              model_note: str,
              knowledge_note: str = '',
              examples: Sequence[str] = (),
              examples_label: str = 'Examples',
              initial_classes: Sequence[str] = ()) -> gr.Blocks:
    """The page, ready for :func:`launch`.

    Args:
        segmenter: serves the requests.
        model_note: the line under the title naming the model.
        knowledge_note: what the model knows (Markdown), under it: the
            names segmentation training saw, whether its CLIP was
            pretrained.
        examples: image files offered as examples, each with
            ``initial_classes``.
        examples_label: what the examples are.
        initial_classes: the class box's first content.
    """
    text = class_text(initial_classes)
    with gr.Blocks(title='MROVSeg demo', analytics_enabled=False) as app:
        gr.Markdown('# MROVSeg: open-vocabulary semantic segmentation\n'
                    f'{model_note}\n\n{knowledge_note}',
                    elem_id='model-note')
        with gr.Row():
            with gr.Column(scale=2):
                image = gr.Image(
                    type='filepath',
                    sources=['upload', 'clipboard'],
                    label='Image (drop, click to upload, or paste)',
                    elem_id='input-image')
                preset = gr.Dropdown(
                    choices=list(PRESETS),
                    value=None,
                    label='Preset vocabulary (fills the class names)',
                    elem_id='preset')
                classes = gr.Textbox(
                    value=text,
                    lines=6,
                    max_lines=20,
                    label='Class names',
                    info=CLASS_HELP,
                    elem_id='classes')
                # names segmentation training never saw, as they are typed
                vocabulary_note = gr.HTML(
                    segmenter.vocabulary_note(text),
                    elem_id='vocabulary-note')
                button = gr.Button(
                    'Segment', variant='primary', elem_id='segment')
                if examples:
                    gr.Examples(
                        examples=[[path, text] for path in examples],
                        inputs=[image, classes],
                        label=examples_label,
                        elem_id='examples')
            with gr.Column(scale=3):
                status = gr.HTML(elem_id='status')
                with gr.Tabs():
                    with gr.Tab('Label map', elem_id='label-map-tab'):
                        with gr.Row():
                            overlay = gr.Image(
                                label='Overlay',
                                format='png',
                                elem_id='overlay')
                            labels = gr.Image(
                                label='Label map',
                                format='png',
                                elem_id='label-map')
                        legend = gr.HTML(elem_id='legend')
                        download = gr.File(
                            label='Label map PNG (class ids, full size)',
                            elem_id='download')
                    with gr.Tab('Mask proposals', elem_id='proposals-tab'):
                        gr.Markdown(PROPOSALS_NOTE)
                        proposals = gr.Image(
                            label='Mask proposals',
                            format='png',
                            elem_id='proposals')
                        proposal_table = gr.HTML(elem_id='proposal-table')

        def run(upload: Optional[dict],
                text: str,
                progress=gr.Progress()):  # noqa: B008 (gradio's idiom)
            return segmenter.respond(
                upload,
                text,
                progress=lambda done, what: progress(done, desc=what))

        # preprocess=False: the upload arrives as its file record, so the
        # page reads (and names the problems of) the file itself
        button.click(
            run, [image, classes], [
                overlay, labels, legend, download, proposals, proposal_table,
                status
            ],
            preprocess=False,
            show_progress_on=[overlay, labels, proposals],
            concurrency_limit=1)
        preset.input(
            lambda name: class_text(PRESETS[name]) if name else gr.skip(),
            preset, classes)
        # typing in the class box clears the preset shown (in the browser)
        classes.input(None, None, preset, js='() => null')
        # no model involved: answered at once, not queued behind a request
        classes.change(
            segmenter.vocabulary_note,
            classes,
            vocabulary_note,
            queue=False,
            show_progress='hidden',
            trigger_mode='always_last')
    return app


def launch(app: gr.Blocks,
           *,
           host: str,
           port: int,
           queue_size: int,
           max_file_size: str) -> None:
    """Serve the page; requests beyond ``queue_size`` waiting are refused."""
    app.queue(default_concurrency_limit=1, max_size=queue_size)
    app.launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        show_error=True,
        max_file_size=max_file_size,
        css=CSS)
