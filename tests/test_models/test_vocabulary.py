"""Vocabulary parsing and vocabulary files: synonyms, bad input, encodings."""
import pytest

from mrovseg_mmseg.models.text_encoders.vocabulary import (
    load_vocabulary_file, parse_vocabulary)


def test_parse_splits_synonyms_and_whitespace():
    classes = parse_vocabulary(
        ['person', ' sofa ,  couch ', 'traffic   light', 'couch'])
    assert classes == [('person', ), ('sofa', 'couch'), ('traffic light', ),
                       ('couch', )]


@pytest.mark.parametrize('vocabulary,pattern', [
    ([], 'empty'),
    ((), 'empty'),
    ('cat', "sequence of class names, got str 'cat'"),
    (['cat', 3], r'index 1 is not a str: 3 \(int\)'),
    (['cat', None], r'index 1 is not a str: None'),
    (['cat', '   '], r"index 1 is blank: '   '"),
    (['cat', ''], r"index 1 is blank: ''"),
    (['sofa, '], r"index 0 \('sofa, '\) has an empty synonym"),
    (['a,,b'], r"index 0 \('a,,b'\) has an empty synonym"),
    (['cat', 'dog', 'Cat'], r"index 2 \('Cat'\) duplicates class name at "
     r"index 0 \('cat'\)"),
    (['sofa, couch', 'sofa,couch'], r"index 1 \('sofa,couch'\) duplicates"),
])
def test_parse_rejects_bad_vocabulary(vocabulary, pattern):
    with pytest.raises(ValueError, match=pattern):
        parse_vocabulary(vocabulary)


def test_load_file_skips_comments_and_blank_lines(tmp_path):
    path = tmp_path / 'vocab.txt'
    path.write_bytes('\ufeff# COCO-like classes\n\nperson\n  sofa, couch  \n'
                     'café  # a comment\n\r\nwall-other\n'.encode('utf-8'))
    names = load_vocabulary_file(str(path))
    assert names == ['person', 'sofa, couch', 'café', 'wall-other']
    assert parse_vocabulary(names)[1] == ('sofa', 'couch')


def test_load_file_rejects_non_utf8(tmp_path):
    path = tmp_path / 'latin1.txt'
    path.write_bytes('cat\ncaf\xe9\n'.encode('latin-1'))
    with pytest.raises(
            ValueError, match=r"latin1\.txt' is not UTF-8: .*line 2"):
        load_vocabulary_file(str(path))


def test_load_file_names_line_of_duplicate(tmp_path):
    path = tmp_path / 'dup.txt'
    path.write_text('# header\ncat\ndog\n\nCat\n', encoding='utf-8')
    with pytest.raises(
            ValueError,
            match=r"dup\.txt' line 5 \('Cat'\) duplicates "
            r".*dup\.txt' line 2 \('cat'\)"):
        load_vocabulary_file(str(path))


def test_load_file_without_classes(tmp_path):
    path = tmp_path / 'comments.txt'
    path.write_text('# nothing\n\n   \n', encoding='utf-8')
    with pytest.raises(ValueError, match=r"comments\.txt' holds no class"):
        load_vocabulary_file(str(path))
