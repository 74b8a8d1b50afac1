"""The page's mask proposals tab: what its request returns, by value."""
import os
import re

import numpy as np
import pytest
from PIL import Image

from mrovseg_mmseg.apis import OVSegInferencer, Proposal
from mrovseg_mmseg.datasets.synthetic_shapes import SHAPE_CLASSES
from mrovseg_mmseg.visualization import draw_proposals
from mrovseg_mmseg.webui.page import class_text, format_area, proposals_html
from mrovseg_mmseg.webui.segmenter import PageSegmenter

CONFIG = os.path.join(
    os.path.dirname(__file__), '..', '..', 'configs',
    'mrovseg_tiny_shapes64.py')
ROW = re.compile(
    r'<tr data-proposal="(\d+)"><td><span class="swatch" style="background: '
    r'rgb\((\d+), (\d+), (\d+)\)"></span></td><td class="id">\d+</td>'
    r'<td class="name">(.*?)</td><td class="score">(.*?)</td>'
    r'<td class="score">(.*?)</td><td class="area">(.*?)</td>'
    r'<td class="area">(.*?)</td></tr>')


@pytest.fixture(scope='module')
def inferencer():
    return OVSegInferencer(CONFIG, device='cpu', vocabulary=SHAPE_CLASSES)


def write_image(path, height, width, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(image).save(path)
    return str(path), image


def test_tab_shows_the_inferencers_top_proposals(inferencer, tmp_path):
    inferencer.set_vocabulary(SHAPE_CLASSES)
    segmenter = PageSegmenter(inferencer, num_proposals=5)
    path, image = write_image(tmp_path / 'a.png', 40, 60)
    outputs = segmenter.respond(
        dict(path=path, orig_name='a.png'), class_text(SHAPE_CLASSES))
    segmenter.close()
    picture, table = outputs[4], outputs[5]
    expected = inferencer.predict_image(image, return_proposals=5).proposals
    assert picture.tobytes() == draw_proposals(image, expected,
                                               inferencer.palette).tobytes()
    rows = ROW.findall(table)
    assert [int(row[0]) for row in rows] == [p.index for p in expected]
    for row, item in zip(rows, expected):
        assert [int(c)
                for c in row[1:4]] == inferencer.palette[item.class_index]
        assert row[4:] == (item.class_name, f'{item.score:.2f}',
                           f'{item.no_object:.2f}',
                           format_area(item.contribution),
                           format_area(item.area))


def test_no_proposals_when_turned_off(inferencer, tmp_path):
    segmenter = PageSegmenter(inferencer, num_proposals=0)
    path, _ = write_image(tmp_path / 'a.png', 20, 20)
    result = segmenter.segment(path, 'sky\nsea')
    segmenter.close()
    assert result.proposals == [] and result.proposals_image is None
    assert '<tbody></tbody>' in result.proposals_table
    with pytest.raises(ValueError, match='num_proposals=-1 must be >= 0'):
        PageSegmenter(inferencer, num_proposals=-1)


def test_proposal_table_escapes_names_and_formats_values():
    mask = np.ones((2, 2), bool)
    proposals = [
        Proposal(7, 1, '<b>sofa</b>, couch', 0.914, 0.031, 0.4567, 0.25, mask),
        Proposal(2, 0, 'sky', 0.5, 0.5, 0.0001, 0.0001, mask)
    ]
    rows = ROW.findall(proposals_html(proposals, [[1, 2, 3], [4, 5, 6]]))
    assert rows == [
        ('7', '4', '5', '6', '&lt;b&gt;sofa&lt;/b&gt;, couch', '0.91', '0.03',
         '45.7%', '25.0%'),
        ('2', '1', '2', '3', 'sky', '0.50', '0.50', '&lt;0.1%', '&lt;0.1%'),
    ]
