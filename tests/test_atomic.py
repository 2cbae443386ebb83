"""common.atomic: one writer for every output file; finished files get normal permissions.

mkstemp makes owner-only (0600) temp files; prepared images, records, CSVs, metrics,
TFLite/ONNX models and detector outputs are meant to be shared, so the finished file must
have the mode `open()` would have given it (0666 less the umask).
"""
from __future__ import annotations

import os
import stat

import pytest

from common.atomic import atomic_dir, atomic_path, atomic_write_bytes, atomic_write_text


@pytest.fixture(params=[0o022, 0o027])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_written_files_have_normal_permissions(tmp_path, umask):
    atomic_write_text(tmp_path / "a.csv", "x\n")
    atomic_write_bytes(tmp_path / "sub" / "b.record", b"\x00\x01")
    with atomic_path(tmp_path / "c.png") as tmp:
        tmp.write_bytes(b"png")
    for name in ("a.csv", "sub/b.record", "c.png"):
        assert _mode(tmp_path / name) == 0o666 & ~umask, name
    assert (tmp_path / "a.csv").read_text() == "x\n"
    assert (tmp_path / "sub" / "b.record").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "c.png", "sub"]


def test_failed_write_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "out.json") as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_entries_have_normal_permissions(tmp_path, umask):
    with atomic_dir(tmp_path / "export") as tmp:
        (tmp / "model.tflite").write_bytes(b"m")
        (tmp / "saved_model").mkdir()
    assert _mode(tmp_path / "export") == 0o777 & ~umask
    assert _mode(tmp_path / "export" / "saved_model") == 0o777 & ~umask
    assert _mode(tmp_path / "export" / "model.tflite") == 0o666 & ~umask


def test_detector_json_output_has_normal_permissions(tmp_path, umask):
    from detect.outputs import Outputs

    out = Outputs(json_path=str(tmp_path / "dets.jsonl"))
    out.close(keep=True)
    assert _mode(tmp_path / "dets.jsonl") == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["dets.jsonl"]
