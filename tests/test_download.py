"""common.download against a local HTTP server on 127.0.0.1 (no outside network)."""
from __future__ import annotations

import hashlib
import http.server
import os
import re

import pytest

from common.download import DownloadError, download
from common.errors import UserError
from tests.conftest import loopback_server

PAYLOAD = os.urandom(300_000) + b"end"


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD at /file.bin, honouring `Range: bytes=N-` like a real file host."""

    honour_range = True
    requests: list[str | None] = []

    def do_GET(self):  # noqa: N802 (http.server naming)
        if self.path != "/file.bin":
            self.send_error(404)
            return
        rng = self.headers.get("Range")
        type(self).requests.append(rng)
        match = re.match(r"bytes=(\d+)-$", rng or "")
        if match and self.honour_range:
            start = int(match.group(1))
            if start >= len(PAYLOAD):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(PAYLOAD)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = PAYLOAD[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            body = PAYLOAD
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture()
def server():
    RangeHandler.requests = []
    RangeHandler.honour_range = True
    with loopback_server(RangeHandler) as url:
        yield url


SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_full_download_verifies_size_and_sha(server, tmp_path):
    dest = download(f"{server}/file.bin", tmp_path / "f.bin", expected_size=len(PAYLOAD),
                    sha256=SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "f.bin.part").exists()
    # A second call reuses the finished file without touching the network.
    download(f"{server}/file.bin", dest, sha256=SHA, progress=False)
    assert RangeHandler.requests == [None]


def test_resumes_partial_part_file(server, tmp_path):
    part = tmp_path / "f.bin.part"
    part.write_bytes(PAYLOAD[:123_457])
    dest = download(f"{server}/file.bin", tmp_path / "f.bin", sha256=SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert RangeHandler.requests == ["bytes=123457-"]
    assert not part.exists()


def test_complete_part_file_is_finished_on_416(server, tmp_path):
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD)
    dest = download(f"{server}/file.bin", tmp_path / "f.bin", progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    RangeHandler.honour_range = False
    (tmp_path / "f.bin.part").write_bytes(b"x" * 1000)
    dest = download(f"{server}/file.bin", tmp_path / "f.bin", progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_checksum_mismatch_removes_part_and_names_file(server, tmp_path):
    with pytest.raises(DownloadError, match="SHA-256") as info:
        download(f"{server}/file.bin", tmp_path / "f.bin", sha256="0" * 64, progress=False)
    assert "f.bin" in str(info.value)
    assert isinstance(info.value, UserError)
    assert not (tmp_path / "f.bin").exists()
    assert not (tmp_path / "f.bin.part").exists()


def test_corrupt_part_is_caught_by_checksum(server, tmp_path):
    (tmp_path / "f.bin.part").write_bytes(b"\0" * 1000)  # wrong bytes, resumed blindly
    with pytest.raises(DownloadError, match="SHA-256"):
        download(f"{server}/file.bin", tmp_path / "f.bin", sha256=SHA, progress=False)
    # The bad partial is gone, so the next attempt starts clean and succeeds.
    assert download(f"{server}/file.bin", tmp_path / "f.bin", sha256=SHA,
                    progress=False).read_bytes() == PAYLOAD


def test_size_mismatch_with_content_length(server, tmp_path):
    with pytest.raises(DownloadError, match="server reports"):
        download(f"{server}/file.bin", tmp_path / "f.bin", expected_size=5, progress=False)


def test_http_404_and_no_server_are_user_errors(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(f"{server}/missing.bin", tmp_path / "m.bin", progress=False)
    with pytest.raises(DownloadError, match="could not download"):
        download("http://127.0.0.1:9/nothing", tmp_path / "n.bin", progress=False)
