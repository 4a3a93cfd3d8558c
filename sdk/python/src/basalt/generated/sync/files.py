# Generated from src/basalt/_async/files.py by scripts/unasync.py: do not edit.
# Regenerate with `python scripts/unasync.py`.
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO
from urllib.parse import urljoin

from ..._compat import UploadBody, Progress, iter_upload, body_size
from ..._core import encode_path, encode_segment, request
from ...errors import BasaltError, argument_error
from ...models import ObjectInfo, ObjectList
from .http import Transport


class Bucket:
    """`client.storage.bucket(name)`: the files of one bucket. Bodies stream both ways."""

    def __init__(self, transport: Transport, name: str) -> None:
        self._t = transport
        self.name = name
        self._base = f"/v1/storage/{encode_segment(name)}"

    def _object(self, path: str) -> str:
        return f"{self._base}/{encode_path(path)}"

    def upload(
        self,
        path: str,
        body: UploadBody,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        on_progress: Progress | None = None,
        overwrite: bool = True,
    ) -> ObjectInfo:
        """Stores `body` at `path`, read in chunks (a file larger than memory streams).

        `on_progress(loaded, total)` is called as the bytes go out (`total` None when unknown).
        `overwrite=False` refuses to replace an existing object (`failed_precondition`).
        """
        headers = {"content-type": content_type or "application/octet-stream"}
        for k, v in (metadata or {}).items():
            headers[f"x-basalt-meta-{k}"] = v
        if not overwrite:
            headers["if-none-match"] = "*"
        total = body_size(body)
        if total is not None:
            headers["content-length"] = str(total)
        content = iter_upload(body, total, on_progress)
        r = self._t.json(request("PUT", self._object(path), headers=headers), content=content)
        return ObjectInfo.from_wire(r)

    def download(self, path: str) -> bytes:
        """The object's bytes, whole (use `download_to` for a large file)."""
        resp = self._t.send(request("GET", self._object(path), headers={"accept": "*/*"}))
        return resp.content

    def download_to(self, path: str, file: str | os.PathLike[str] | IO[bytes]) -> int:
        """Streams the object into a binary file (or a file at a filesystem path); returns the bytes written."""
        if isinstance(file, (str, os.PathLike)):
            with Path(file).open("wb") as f:
                return self._stream_into(path, f)
        return self._stream_into(path, file)

    def _stream_into(self, path: str, target: IO[bytes]) -> int:
        written = 0
        with self._t.stream(request("GET", self._object(path), headers={"accept": "*/*"})) as resp:
            for chunk in resp.iter_bytes():
                target.write(chunk)
                written += len(chunk)
        return written

    def info(self, path: str) -> ObjectInfo:
        """The object's metadata (from the listing, which carries all of it)."""
        page = self.list(prefix=path, limit=1000)
        for o in page.objects:
            if o.path == path:
                return o
        raise BasaltError(status=404, code="not_found", message=f"no object {path} in bucket {self.name}")

    def list(
        self, *, prefix: str | None = None, limit: int | None = None, after: str | None = None
    ) -> ObjectList:
        r = self._t.json(request("GET", self._base, params={"prefix": prefix, "limit": limit, "after": after}))
        return ObjectList(objects=[ObjectInfo.from_wire(o) for o in r["objects"]], next_cursor=r.get("next_cursor"))

    def remove(self, path: str) -> None:
        self._t.send(request("DELETE", self._object(path)))

    def url(self, path: str) -> str:
        """The object's address in a public bucket (no token needed)."""
        return self._t.url + self._object(path)

    def signed_url(self, path: str, *, expires_in: int) -> str:
        """An absolute URL that downloads the object without a token for `expires_in` seconds."""
        if expires_in <= 0:
            raise argument_error("expires_in must be a positive number of seconds")
        r = self._t.json(
            request("POST", self._object(path), params={"sign": ""}, body={"expires_in": expires_in})
        )
        return urljoin(self._t.url + "/", str(r["url"]))


class Storage:
    """`client.storage`."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def bucket(self, name: str) -> Bucket:
        return Bucket(self._t, name)
