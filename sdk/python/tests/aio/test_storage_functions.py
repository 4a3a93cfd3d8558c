"""Storage and functions against a real server."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest

from basalt import AsyncClient, BasaltError
from tests.aio.conftest import ClientFactory
from tests.helpers import unique


async def test_upload_download_info_list_remove(async_user: AsyncClient, tmp_path: Path) -> None:
    files = async_user.storage.bucket("files")
    prefix = unique("dir")
    seen: list[tuple[int, int | None]] = []
    info = await files.upload(
        f"{prefix}/hello world.txt",
        b"hello bytes",
        content_type="text/plain",
        metadata={"owner": "me"},
        on_progress=lambda loaded, total: seen.append((loaded, total)),
    )
    assert info.size == 11 and info.content_type.startswith("text/plain") and info.metadata == {"owner": "me"}
    assert seen[-1] == (11, 11)
    assert await files.download(f"{prefix}/hello world.txt") == b"hello bytes"
    await files.upload(f"{prefix}/b.bin", io.BytesIO(b"\x00\x01" * 1000))
    src = tmp_path / "c.txt"
    src.write_text("from a path")
    await files.upload(f"{prefix}/c.txt", src, content_type="text/plain")
    await files.upload(f"{prefix}/d.txt", "text body")
    out = tmp_path / "out.bin"
    assert await files.download_to(f"{prefix}/b.bin", out) == 2000
    assert out.read_bytes() == b"\x00\x01" * 1000
    buf = io.BytesIO()
    assert await files.download_to(f"{prefix}/c.txt", buf) == 11 and buf.getvalue() == b"from a path"
    got = await files.info(f"{prefix}/b.bin")
    assert got.size == 2000 and got.path == f"{prefix}/b.bin"
    page = await files.list(prefix=f"{prefix}/", limit=2)
    assert len(page.objects) == 2 and page.next_cursor
    rest = await files.list(prefix=f"{prefix}/", after=page.next_cursor)
    assert sorted(o.path for o in page.objects + rest.objects) == sorted(
        f"{prefix}/{n}" for n in ("hello world.txt", "b.bin", "c.txt", "d.txt")
    )
    with pytest.raises(BasaltError) as e:
        await files.upload(f"{prefix}/d.txt", b"again", overwrite=False)
    assert e.value.status == 412 and e.value.code == "failed_precondition"
    await files.remove(f"{prefix}/d.txt")
    with pytest.raises(BasaltError) as e:
        await files.download(f"{prefix}/d.txt")
    assert e.value.status == 404 and e.value.code == "not_found"
    with pytest.raises(BasaltError) as e:
        await files.download_to(f"{prefix}/d.txt", tmp_path / "missing")
    assert e.value.code == "not_found"
    with pytest.raises(BasaltError) as e:
        await files.info(f"{prefix}/d.txt")
    assert e.value.code == "not_found"


async def test_signed_and_public_urls(async_user: AsyncClient, async_clients: ClientFactory) -> None:
    files = async_user.storage.bucket("files")
    path = f"{unique('s')}/a b.txt"
    await files.upload(path, b"signed!")
    url = await files.signed_url(path, expires_in=60)
    assert url.startswith(async_user.url + "/")
    async with httpx.AsyncClient() as raw:
        r = await raw.get(url)
        assert r.status_code == 200 and r.content == b"signed!"
        r = await raw.get(url.replace("sig=", "sig=0"))
        assert r.status_code in (401, 403)
        pub = async_user.storage.bucket("public")
        await pub.upload("p/x.txt", b"public bytes")
        r = await raw.get(pub.url("p/x.txt"))
        assert r.status_code == 200 and r.content == b"public bytes"
    with pytest.raises(BasaltError) as e:
        await files.signed_url(path, expires_in=0)
    assert e.value.code == "invalid_argument"
    anon = async_clients()
    with pytest.raises(BasaltError) as e:
        await anon.storage.bucket("files").download(path)
    assert e.value.status in (401, 403)


async def test_bucket_limits(async_user: AsyncClient) -> None:
    images = async_user.storage.bucket("images")
    with pytest.raises(BasaltError) as e:
        await images.upload("a.txt", b"text", content_type="text/plain")
    assert e.value.status == 415 and e.value.code == "unsupported_media_type"
    with pytest.raises(BasaltError) as e:
        await images.upload("big.png", b"x" * 5000, content_type="image/png")
    assert e.value.status == 413 and e.value.code == "payload_too_large"
    ok = await images.upload("small.png", b"\x89PNG" + b"x" * 100, content_type="image/png")
    assert ok.size == 104
    with pytest.raises(BasaltError) as e:
        await async_user.storage.bucket("nope").upload("a", b"x")
    assert e.value.status == 404
    with pytest.raises(BasaltError) as e:
        await images.upload("../escape", b"x")
    assert e.value.code == "invalid_argument"


async def test_functions_invoke(async_user: AsyncClient, async_clients: ClientFactory) -> None:
    r = await async_user.functions.invoke("hello", {"name": "Ada"})
    assert r["greeting"] == "hello Ada" and r["caller"] == (async_user.auth.user.id if async_user.auth.user else "")
    assert (await async_clients().functions.invoke("hello", {"name": "x"}))["caller"] == "anon"
    with pytest.raises(BasaltError) as e:
        await async_user.functions.invoke("refuse")
    assert e.value.status == 400 and e.value.code == "invalid_argument" and "no thanks" in e.value.message
    with pytest.raises(BasaltError) as e:
        await async_user.functions.invoke("no_such_function")
    assert e.value.status == 404
    with pytest.raises(BasaltError) as e:
        await async_clients().functions.invoke("members")
    assert e.value.status in (401, 403)
    assert await async_user.functions.invoke("members") == {"ok": True}


async def test_upload_of_unknown_length_streams_chunked(async_user: AsyncClient) -> None:
    files = async_user.storage.bucket("files")
    path = f"{unique('gen')}/gen.bin"
    seen: list[tuple[int, int | None]] = []
    info = await files.upload(
        path, (bytes([i % 256]) * 1000 for i in range(300)), on_progress=lambda n, t: seen.append((n, t))
    )
    assert info.size == 300_000 and seen[-1] == (300_000, None)
    data = await files.download(path)
    assert len(data) == 300_000 and data[:1000] == b"\x00" * 1000 and data[-1000:] == bytes([299 % 256]) * 1000
