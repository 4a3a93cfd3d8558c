# Generated from tests/aio/test_storage_functions.py by scripts/unasync.py: do not edit.
# Regenerate with `python scripts/unasync.py`.
"""Storage and functions against a real server."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest

from basalt import Client, BasaltError
from tests.sync.conftest import ClientFactory
from tests.helpers import unique


def test_upload_download_info_list_remove(sync_user: Client, tmp_path: Path) -> None:
    files = sync_user.storage.bucket("files")
    prefix = unique("dir")
    seen: list[tuple[int, int | None]] = []
    info = files.upload(
        f"{prefix}/hello world.txt",
        b"hello bytes",
        content_type="text/plain",
        metadata={"owner": "me"},
        on_progress=lambda loaded, total: seen.append((loaded, total)),
    )
    assert info.size == 11 and info.content_type.startswith("text/plain") and info.metadata == {"owner": "me"}
    assert seen[-1] == (11, 11)
    assert files.download(f"{prefix}/hello world.txt") == b"hello bytes"
    files.upload(f"{prefix}/b.bin", io.BytesIO(b"\x00\x01" * 1000))
    src = tmp_path / "c.txt"
    src.write_text("from a path")
    files.upload(f"{prefix}/c.txt", src, content_type="text/plain")
    files.upload(f"{prefix}/d.txt", "text body")
    out = tmp_path / "out.bin"
    assert files.download_to(f"{prefix}/b.bin", out) == 2000
    assert out.read_bytes() == b"\x00\x01" * 1000
    buf = io.BytesIO()
    assert files.download_to(f"{prefix}/c.txt", buf) == 11 and buf.getvalue() == b"from a path"
    got = files.info(f"{prefix}/b.bin")
    assert got.size == 2000 and got.path == f"{prefix}/b.bin"
    page = files.list(prefix=f"{prefix}/", limit=2)
    assert len(page.objects) == 2 and page.next_cursor
    rest = files.list(prefix=f"{prefix}/", after=page.next_cursor)
    assert sorted(o.path for o in page.objects + rest.objects) == sorted(
        f"{prefix}/{n}" for n in ("hello world.txt", "b.bin", "c.txt", "d.txt")
    )
    with pytest.raises(BasaltError) as e:
        files.upload(f"{prefix}/d.txt", b"again", overwrite=False)
    assert e.value.status == 412 and e.value.code == "failed_precondition"
    files.remove(f"{prefix}/d.txt")
    with pytest.raises(BasaltError) as e:
        files.download(f"{prefix}/d.txt")
    assert e.value.status == 404 and e.value.code == "not_found"
    with pytest.raises(BasaltError) as e:
        files.download_to(f"{prefix}/d.txt", tmp_path / "missing")
    assert e.value.code == "not_found"
    with pytest.raises(BasaltError) as e:
        files.info(f"{prefix}/d.txt")
    assert e.value.code == "not_found"


def test_signed_and_public_urls(sync_user: Client, sync_clients: ClientFactory) -> None:
    files = sync_user.storage.bucket("files")
    path = f"{unique('s')}/a b.txt"
    files.upload(path, b"signed!")
    url = files.signed_url(path, expires_in=60)
    assert url.startswith(sync_user.url + "/")
    with httpx.Client() as raw:
        r = raw.get(url)
        assert r.status_code == 200 and r.content == b"signed!"
        r = raw.get(url.replace("sig=", "sig=0"))
        assert r.status_code in (401, 403)
        pub = sync_user.storage.bucket("public")
        pub.upload("p/x.txt", b"public bytes")
        r = raw.get(pub.url("p/x.txt"))
        assert r.status_code == 200 and r.content == b"public bytes"
    with pytest.raises(BasaltError) as e:
        files.signed_url(path, expires_in=0)
    assert e.value.code == "invalid_argument"
    anon = sync_clients()
    with pytest.raises(BasaltError) as e:
        anon.storage.bucket("files").download(path)
    assert e.value.status in (401, 403)


def test_bucket_limits(sync_user: Client) -> None:
    images = sync_user.storage.bucket("images")
    with pytest.raises(BasaltError) as e:
        images.upload("a.txt", b"text", content_type="text/plain")
    assert e.value.status == 415 and e.value.code == "unsupported_media_type"
    with pytest.raises(BasaltError) as e:
        images.upload("big.png", b"x" * 5000, content_type="image/png")
    assert e.value.status == 413 and e.value.code == "payload_too_large"
    ok = images.upload("small.png", b"\x89PNG" + b"x" * 100, content_type="image/png")
    assert ok.size == 104
    with pytest.raises(BasaltError) as e:
        sync_user.storage.bucket("nope").upload("a", b"x")
    assert e.value.status == 404
    with pytest.raises(BasaltError) as e:
        images.upload("../escape", b"x")
    assert e.value.code == "invalid_argument"


def test_functions_invoke(sync_user: Client, sync_clients: ClientFactory) -> None:
    r = sync_user.functions.invoke("hello", {"name": "Ada"})
    assert r["greeting"] == "hello Ada" and r["caller"] == (sync_user.auth.user.id if sync_user.auth.user else "")
    assert (sync_clients().functions.invoke("hello", {"name": "x"}))["caller"] == "anon"
    with pytest.raises(BasaltError) as e:
        sync_user.functions.invoke("refuse")
    assert e.value.status == 400 and e.value.code == "invalid_argument" and "no thanks" in e.value.message
    with pytest.raises(BasaltError) as e:
        sync_user.functions.invoke("no_such_function")
    assert e.value.status == 404
    with pytest.raises(BasaltError) as e:
        sync_clients().functions.invoke("members")
    assert e.value.status in (401, 403)
    assert sync_user.functions.invoke("members") == {"ok": True}


def test_upload_of_unknown_length_streams_chunked(sync_user: Client) -> None:
    files = sync_user.storage.bucket("files")
    path = f"{unique('gen')}/gen.bin"
    seen: list[tuple[int, int | None]] = []
    info = files.upload(
        path, (bytes([i % 256]) * 1000 for i in range(300)), on_progress=lambda n, t: seen.append((n, t))
    )
    assert info.size == 300_000 and seen[-1] == (300_000, None)
    data = files.download(path)
    assert len(data) == 300_000 and data[:1000] == b"\x00" * 1000 and data[-1000:] == bytes([299 % 256]) * 1000
