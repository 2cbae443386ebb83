"""Issue 11, data side: real CLIs in subprocesses on files a hostile user would hand them.

Foreign `--out` folders, HTML pages and cut-short bodies from a loopback server,
CSV numbers that overflow, decompression bombs, read-only and full disks.
"""
from __future__ import annotations

import csv
import http.server
import io
import os
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest

from common.download import DownloadError, download
from common.errors import UserError
from tests.conftest import REPO_ROOT, loopback_server
from tests.synthetic_data import make_images
from training import zoo
from tests.cli_checks import one_error_line as _one_error_line

TIMEOUT = 120


def _cli(*args: str, cwd: Path = REPO_ROOT, preexec=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, preexec_fn=preexec)



def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A small CSV + images set, generated (the synthetic blobs of the training tests)."""
    root = tmp_path_factory.mktemp("src")
    make_images(root, count=6)
    return root


def _import(source: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return _cli("-m", "data_prep.import_annotations", "--csv", str(source / "labels.csv"),
                "--images", str(source / "images"), "--out", str(out), "--no-progress",
                "--workers", "1", *extra)


# --- 1. --out on a folder handtrack did not write -------------------------------------

def _foreign_folder(out: Path) -> None:
    (out / "images" / "train").mkdir(parents=True)
    (out / "images" / "train" / "my_photo.jpg").write_bytes(b"my holiday")
    (out / "records").mkdir()
    (out / "records" / "other.record").write_bytes(b"someone's records")
    (out / "train_labels.csv").write_text("mine\n")


def test_import_refuses_foreign_nonempty_out(source, tmp_path):
    out = tmp_path / "theirs"
    _foreign_folder(out)
    before = _snapshot(out)
    _one_error_line(_import(source, out), str(out), "not written by handtrack")
    assert _snapshot(out) == before


def test_prep_egohands_refuses_foreign_nonempty_out(tmp_path):
    out = tmp_path / "theirs"
    _foreign_folder(out)
    before = _snapshot(out)
    fake_zip = tmp_path / "egohands_data.zip"
    with zipfile.ZipFile(fake_zip, "w") as z:
        z.writestr("_LABELLED_SAMPLES/X/polygons.mat", b"")
    _one_error_line(_cli("prep_egohands.py", "--zip", str(fake_zip), "--out", str(out),
                         "--no-progress"), "not written by handtrack")
    assert _snapshot(out) == before
    assert not (out / "raw").exists()


@pytest.mark.slow
def test_rebuild_deletes_only_what_handtrack_wrote(source, tmp_path):
    out = tmp_path / "ours"
    first = _import(source, out)
    assert first.returncode == 0, first.stderr[-2000:]
    ours = {p for p in _snapshot(out) if not p.startswith(".")}
    (out / "images" / "train" / "my_photo.jpg").write_bytes(b"added later by the user")
    (out / "records" / "other.record").write_bytes(b"user's records")
    (out / "notes.txt").write_text("keep me")
    again = _import(source, out, "--seed", "7")          # options changed: rebuild
    assert again.returncode == 0, again.stderr[-2000:]
    assert "rebuilding" in again.stderr
    assert (out / "images" / "train" / "my_photo.jpg").read_bytes() == b"added later by the user"
    assert (out / "records" / "other.record").read_bytes() == b"user's records"
    assert (out / "notes.txt").read_text() == "keep me"
    listed = {row["filename"] for split in ("train", "test", "eval")
              for row in csv.DictReader(open(out / f"{split}_labels.csv"))}
    for path in (out / "images").rglob("*.jpg"):  # no stale image of the old split remains
        assert path.name in listed or path.name == "my_photo.jpg", path


def test_out_that_is_a_file(source, tmp_path):
    out = tmp_path / "afile"
    out.write_text("x")
    _one_error_line(_import(source, out), str(out), "is a file")


# --- 10. operating-system errors and hostile values -------------------------------------

def test_read_only_out_folder(source, tmp_path):
    if os.geteuid() == 0:   # root ignores permission bits; /proc refuses new folders to all
        _one_error_line(_import(source, Path("/proc/handtrack-out")), "/proc/handtrack-out")
        return
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        _one_error_line(_import(source, out / "sub"), str(out / "sub"))
    finally:
        out.chmod(0o755)


def _limit_file_size(limit: int):
    def apply() -> None:
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.slow
def test_disk_full_during_prep(source, tmp_path):
    """Disk full, simulated with RLIMIT_FSIZE in the child (no tmpfs mount without root):
    every write past 2 KB fails with EFBIG, as a full disk fails with ENOSPC."""
    out = tmp_path / "full"
    result = _cli("-m", "data_prep.import_annotations", "--csv", str(source / "labels.csv"),
                  "--images", str(source / "images"), "--out", str(out), "--no-progress",
                  "--workers", "1", preexec=_limit_file_size(2048))
    line = _one_error_line(result, "File too large")
    assert "disk space" in line
    # Nothing half-written under a final name: every image present is complete.
    for path in (out / "images").rglob("*.jpg"):
        assert path.read_bytes() == (source / "images" / path.name).read_bytes()
    assert not list(out.rglob(".*.tmp")), list(out.rglob(".*.tmp"))


@pytest.mark.parametrize("value", ["1e400", "nan", "inf"])
def test_csv_non_finite_numbers(source, tmp_path, value):
    rows = list(csv.reader(open(source / "labels.csv")))
    rows[1][1] = value
    bad = tmp_path / "bad.csv"
    with open(bad, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    result = _cli("-m", "data_prep.import_annotations", "--csv", str(bad), "--images",
                  str(source / "images"), "--out", str(tmp_path / "out"), "--no-progress")
    _one_error_line(result, f"{bad}:2", "width", "finite")


def _png_bomb(path: Path, width: int, height: int) -> None:
    """A valid 1-bit PNG of width x height black pixels, written row by row (tiny file)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    comp = zlib.compressobj(9)
    row = b"\0" + b"\0" * ((width + 7) // 8)
    body = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", body) + chunk(b"IEND", b""))


@pytest.mark.slow
def test_decompression_bomb_is_named_with_its_size(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    _png_bomb(images / "huge.png", 20000, 10000)   # 2e8 pixels > PIL's 2 x 89.5e6 limit
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("filename,width,height,class,xmin,ymin,xmax,ymax\n"
                        "huge.png,20000,10000,hand,10,10,500,500\n")
    result = _cli("-m", "data_prep.import_annotations", "--csv", str(csv_path), "--images",
                  str(images), "--out", str(tmp_path / "out"), "--no-progress")
    _one_error_line(result, "huge.png", "200000000 pixels", "too large")


# --- 4. downloads that are not what they claim ------------------------------------------

def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", os.urandom(50_000))
    return buf.getvalue()


def _tgz_bytes() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = os.urandom(80_000)
        info = tarfile.TarInfo("demo/model.ckpt.index")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


HTML = b"<!DOCTYPE html><html><body>Please log in</body></html>\n"
ZIP, TGZ = _zip_bytes(), _tgz_bytes()
ROUTES = {  # path -> (body, send Content-Length)
    "/page.zip": (HTML, True),
    "/short.zip": (ZIP[: len(ZIP) // 2], False),
    "/good.zip": (ZIP, True),
    "/page.tar.gz": (HTML, True),
    "/short.tar.gz": (TGZ[: len(TGZ) // 2], False),
}


class Handler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.0: without Content-Length the body ends when the connection closes."""

    def do_GET(self):  # noqa: N802
        if self.path not in ROUTES:
            self.send_error(404)
            return
        body, with_length = ROUTES[self.path]
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if body is HTML else "application/zip")
        if with_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    with loopback_server(Handler) as url:
        yield url


@pytest.mark.parametrize("name,why", [("page.zip", "HTML page"), ("short.zip", "not a complete"),
                                      ("page.tar.gz", "HTML page"),
                                      ("short.tar.gz", "not a complete")])
def test_download_verifies_archive_before_final_name(server, tmp_path, name, why):
    dest = tmp_path / name
    with pytest.raises(DownloadError, match=why) as info:
        download(f"{server}/{name}", dest, progress=False)
    assert "rerun" in str(info.value)
    assert not dest.exists() and not Path(str(dest) + ".part").exists()


def test_bad_cached_download_is_replaced(server, tmp_path):
    dest = tmp_path / "good.zip"
    dest.write_bytes(HTML)                       # what an older version left behind
    assert download(f"{server}/good.zip", dest, progress=False).read_bytes() == ZIP


def test_zoo_cache_rejects_html_and_truncated_archives(server, tmp_path):
    cache = tmp_path / "cache"
    for name in ("page.tar.gz", "short.tar.gz"):
        with pytest.raises(UserError):
            zoo.fetch(f"{server}/{name}", cache)
        assert not (cache / name).exists()
        assert not (cache / name.removesuffix(".tar.gz")).exists()


def test_zoo_cached_corrupt_archive_is_deleted(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    archive = cache / "demo.tar.gz"
    archive.write_bytes(TGZ[:-200])              # e.g. copied in by hand, cut short
    with pytest.raises(UserError):
        zoo.fetch("http://127.0.0.1:9/demo.tar.gz", cache)
    assert not archive.exists()


def test_prep_egohands_html_download_is_one_error_line(server, tmp_path):
    out = tmp_path / "ego"
    result = _cli("prep_egohands.py", "--url", f"{server}/page.zip", "--out", str(out),
                  "--no-progress")
    _one_error_line(result, "HTML page", "--zip")
    assert not (out / "egohands_data.zip").exists()
    assert not (out / "egohands_data.zip.part").exists()


# --- 2. export --overwrite; 8. folders a killed export left behind ---------------------

def test_export_overwrite_refuses_a_folder_that_is_not_an_export(tmp_path):
    models = tmp_path / "models"
    (models / "other_model").mkdir(parents=True)
    (models / "other_model" / "model.tflite").write_bytes(b"someone's model")
    (models / "notes.txt").write_text("keep")
    before = _snapshot(models)
    result = _cli("export.py", "--pipeline", "ssd.config", "--checkpoint", str(tmp_path),
                  "--out", str(models), "--overwrite")
    _one_error_line(result, str(models), "not a handtrack export")
    assert _snapshot(models) == before


def test_export_folder_with_marker_is_replaceable_and_stale_temps_go(tmp_path):
    from common.atomic import atomic_dir
    from export_lib.exporter import EXPORT_MARKER, check_replaceable

    out = tmp_path / "my_hands"
    out.mkdir()
    (out / EXPORT_MARKER).write_text("{}")
    check_replaceable(out)                                 # an earlier export: allowed
    stale = tmp_path / "my_hands.tmp-k1ll3d"               # what a killed export leaves
    (stale / "saved_model").mkdir(parents=True)
    (stale / "saved_model" / "big.bin").write_bytes(b"\0" * 100_000)
    with atomic_dir(out, replace=True) as tmp:
        (tmp / EXPORT_MARKER).write_text("{\"new\": true}")
    assert not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_hands"]
    assert "new" in (out / EXPORT_MARKER).read_text()
