"""fine_tune_checkpoint given as a zoo URL: downloaded, unpacked safely, found, cached."""
from __future__ import annotations

import functools
import http.server
import io
import tarfile
import threading

import pytest

from common.errors import UserError
from training import zoo
from training.checkpoints import checkpoint_prefix


@pytest.fixture()
def served(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _add(tar, name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def test_zoo_archive_is_downloaded_unpacked_and_reused(served, tmp_path):
    root, base = served
    with tarfile.open(root / "ssd_demo_2018_01_28.tar.gz", "w:gz") as tar:
        _add(tar, "ssd_demo_2018_01_28/model.ckpt.index")
        _add(tar, "ssd_demo_2018_01_28/model.ckpt.data-00000-of-00001")
        _add(tar, "ssd_demo_2018_01_28/pipeline.config")
    cache = tmp_path / "cache"
    folder = zoo.fetch(f"{base}/ssd_demo_2018_01_28.tar.gz", cache)
    assert checkpoint_prefix(folder, "fine_tune_checkpoint").endswith("ssd_demo_2018_01_28/model.ckpt")
    (root / "ssd_demo_2018_01_28.tar.gz").unlink()   # a second run needs no network
    assert zoo.fetch(f"{base}/ssd_demo_2018_01_28.tar.gz", cache) == folder


def test_archive_escaping_its_folder_is_refused(served, tmp_path):
    root, base = served
    with tarfile.open(root / "evil.tar.gz", "w:gz") as tar:
        _add(tar, "../outside.txt")
    with pytest.raises(UserError, match="cannot unpack"):
        zoo.fetch(f"{base}/evil.tar.gz", tmp_path / "cache")
    assert not (tmp_path / "outside.txt").exists()
    assert not (tmp_path / "cache" / "evil").exists()


def test_non_archive_url_and_missing_file_are_user_errors(served, tmp_path):
    _, base = served
    with pytest.raises(UserError, match="not a .tar.gz"):
        zoo.fetch(f"{base}/model.ckpt", tmp_path / "cache")
    with pytest.raises(UserError):
        zoo.fetch(f"{base}/missing.tar.gz", tmp_path / "cache")


def test_atomic_dir_appears_only_complete(tmp_path):
    from common.atomic import atomic_dir

    target = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "half.txt").write_text("x")
            raise RuntimeError("interrupted")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("1")
    with pytest.raises(FileExistsError):
        with atomic_dir(target):
            pass
    with atomic_dir(target, replace=True) as tmp:
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert [p.name for p in target.iterdir()] == ["b.txt"]
