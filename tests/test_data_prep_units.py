"""Pure-Python pieces of data_prep: splits, label maps, box cleaning, zip-entry safety."""
from __future__ import annotations

import pytest

from common.errors import UserError
from data_prep.annotations import BoxStats, clean_box, default_group
from data_prep.egohands import _unsafe
from data_prep.label_map import label_map_text, read_label_map, write_label_map
from data_prep.splits import parse_fractions, split_groups, split_random


def test_random_split_is_deterministic_and_cut_80_10_10():
    names = [f"f{i:03d}.jpg" for i in range(100)]
    first = split_random(names, seed=42)
    assert [len(first[s]) for s in ("train", "test", "eval")] == [80, 10, 10]
    assert first == split_random(list(reversed(names)), seed=42)   # input order irrelevant
    assert first != split_random(names, seed=1)
    assert sorted(sum(first.values(), [])) == names


@pytest.mark.parametrize("n, want", [(0, [0, 0, 0]), (1, [1, 0, 0]), (2, [2, 0, 0]),
                                     (3, [1, 1, 1]), (12, [10, 1, 1])])
def test_random_split_small_counts(n, want):
    parts = split_random([str(i) for i in range(n)])
    assert [len(parts[s]) for s in ("train", "test", "eval")] == want


def test_group_split_keeps_groups_whole_and_fills_every_split():
    sizes = {"a": 100, "b": 100, "c": 100}
    where = split_groups(sizes, seed=0)
    assert sorted(where.values()) == ["eval", "test", "train"]

    sizes = {f"s{i}": n for i, n in enumerate([546, 120, 90, 80, 70, 60, 50, 45, 40, 30, 25, 7])}
    for seed in range(5):
        where = split_groups(sizes, seed=seed)
        assert set(where) == set(sizes)
        counts = {s: sum(sizes[g] for g, sp in where.items() if sp == s)
                  for s in ("train", "test", "eval")}
        assert all(counts.values())
        assert counts["train"] > counts["test"] and counts["train"] > counts["eval"]
    assert split_groups(sizes, seed=3) == split_groups(dict(reversed(sizes.items())), seed=3)


def test_group_split_with_zero_eval_fraction():
    where = split_groups({f"g{i}": 10 for i in range(10)}, (0.9, 0.1, 0.0), seed=1)
    assert "eval" not in where.values() and "test" in where.values()


@pytest.mark.parametrize("text", ["0.8,0.2", "0.5,0.5,0.5", "a,b,c", "0,0.5,0.5", "-0.1,0.6,0.5"])
def test_bad_fractions(text):
    with pytest.raises(UserError, match="--fractions"):
        parse_fractions(text)


def test_label_map_round_trip_and_hand_written(tmp_path):
    path = tmp_path / "lm.pbtxt"
    write_label_map(path, ["hand", "it's"])
    assert read_label_map(path) == ["hand", "it's"]
    assert label_map_text(["hand"]) == "item {\n  id: 1\n  name: 'hand'\n}\n"
    path.write_text('# comment\nitem { name: "face" id: 2 display_name: "Face" }\n'
                    "item {\n  id: 3\n  name: 'ignore'\n}\nitem { id: 1 name: 'hand' }\n")
    assert read_label_map(path) == ["hand", "face"]


@pytest.mark.parametrize("text, message", [
    ("item { id: 1 name: 'a' }\nitem { id: 3 name: 'b' }", "1..N"),
    ("item { id: 1 name: 'a' }\nitem { id: 1 name: 'b' }", "twice"),
    ("item { id: 1 }", "id and a name"),
    ("item { id: 1 name: 'a' ", "unclosed"),
    ("", "no classes"),
])
def test_bad_label_maps(tmp_path, text, message):
    path = tmp_path / "lm.pbtxt"
    path.write_text(text)
    with pytest.raises(UserError, match=message) as info:
        read_label_map(path)
    assert "lm.pbtxt" in str(info.value)


def test_label_map_errors_name_file_and_line(tmp_path):
    """Parsed with text_format against the OD API's StringIntLabelMap: a misspelt field
    or a bad value names file:line:col; a duplicate id names the line of the second."""
    path = tmp_path / "lm.pbtxt"
    path.write_text("item {\n  id: 1\n  nme: 'hand'\n}\n")
    with pytest.raises(UserError, match=r'lm\.pbtxt:3:3: unknown field "nme".*"name"'):
        read_label_map(path)
    path.write_text("item {\n  id: one\n  name: 'hand'\n}\n")
    with pytest.raises(UserError, match=r"lm\.pbtxt:2:7: .*integer"):
        read_label_map(path)
    path.write_text("item { id: 1 name: 'a' }\n\nitem {\n  name: 'b'\n  id: 1\n}\n")
    with pytest.raises(UserError, match=r"lm\.pbtxt:5: id 1 appears twice"):
        read_label_map(path)


def test_label_map_accepts_every_od_api_item_field(tmp_path):
    path = tmp_path / "lm.pbtxt"
    path.write_text("item { name: 'hand' id: 1 display_name: 'Hand' keypoints { id: 1 label: "
                    "'wrist' } ancestor_ids: 5 descendant_ids: 6 frequency: RARE "
                    "instance_count: 3 }\n")
    assert read_label_map(path) == ["hand"]


def test_write_label_map_rejects_ignore(tmp_path):
    with pytest.raises(UserError, match="reserved"):
        write_label_map(tmp_path / "x.pbtxt", ["hand", "ignore"])


def test_clean_box_clips_and_drops_degenerate():
    stats = BoxStats()
    box = clean_box("hand", -5, 10, 70, 40.5, 64, 48, stats)
    assert (box.xmin, box.ymin, box.xmax, box.ymax) == (0, 10, 64, 40.5)
    assert clean_box("hand", 10, 10, 10.5, 30, 64, 48, stats) is None
    assert clean_box("hand", 100, 10, 120, 30, 64, 48, stats) is None    # outside
    assert (stats.clipped, stats.degenerate) == (2, 2)
    with pytest.raises(UserError, match="xmin > xmax"):
        clean_box("hand", 30, 10, 10, 30, 64, 48, stats, where="f.csv:3")


def test_default_group():
    assert default_group("CARDS_OFFICE_S_B_frame_0008.jpg") == "CARDS_OFFICE_S_B"
    assert default_group("sub/pic001.jpg") == "pic001"


@pytest.mark.parametrize("name, unsafe", [
    ("_LABELLED_SAMPLES/A/frame_0001.jpg", False), ("a/../../x", True), ("../x", True),
    ("/etc/passwd", True), ("\\\\server\\x", True), ("C:\\x.txt", True), ("a\\..\\..\\x", True),
    ("a..b/c", False)])
def test_zip_entry_safety(name, unsafe):
    assert _unsafe(name) is unsafe
