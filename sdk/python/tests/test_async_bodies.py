"""What only AsyncClient takes as an upload body: async iterables and files with an async `read`."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

from basalt import AsyncClient
from tests.helpers import Server, unique


class AsyncFile:
    """The shape of an async file object (aiofiles and the like): `await f.read(n)`."""

    def __init__(self, data: bytes) -> None:
        self._f = io.BytesIO(data)

    async def read(self, n: int = -1) -> bytes:
        return self._f.read(n)


async def test_async_iterable_and_async_file(server: Server) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(50):
            yield bytes([i]) * 4096

    async with AsyncClient(server.url, key=server.service_key) as c:
        files = c.storage.bucket("files")
        base = unique("abody")
        info = await files.upload(f"{base}/gen.bin", chunks())
        assert info.size == 50 * 4096
        assert (await files.download(f"{base}/gen.bin"))[4096:4097] == b"\x01"
        info = await files.upload(f"{base}/file.bin", AsyncFile(b"async read" * 1000), content_type="text/plain")
        assert info.size == 10_000 and info.content_type.startswith("text/plain")
        assert await files.download(f"{base}/file.bin") == b"async read" * 1000
