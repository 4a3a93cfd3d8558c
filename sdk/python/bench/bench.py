"""Benchmarks of the Python SDK against a real `basalt` server, side by side in one run:

- get-by-id requests/s from one process: the SDK's `Client` against raw `httpx.Client` (one
  connection, one request after another), and `AsyncClient` against raw `httpx.AsyncClient`
  (a pool, `--concurrency` requests in flight);
- realtime events/s consumed by `async for` on `AsyncClient` and `for` on `Client`.

Each measurement runs `--rounds` times, the variants interleaved, and the median is printed.

    BASALT_BIN=path/to/basalt python bench/bench.py            # starts its own server (SQLite)
    python bench/bench.py --url http://127.0.0.1:8090 --key bsk_...
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from basalt import AsyncClient, ChangeEvent, Client


def sync_requests(n: int, get: Callable[[], Any]) -> float:
    start = time.perf_counter()
    for _ in range(n):
        get()
    return n / (time.perf_counter() - start)


async def async_requests(n: int, concurrency: int, get: Callable[[], Awaitable[Any]]) -> float:
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await get()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start)


WRITE_RATES: list[float] = []


def write_events(url: str, key: str, group: str, n: int) -> None:
    with Client(url, key=key, timeout=120) as w:
        start = time.perf_counter()
        for i in range(0, n, 500):
            w.batch(
                [
                    {"op": "create", "collection": "bench", "data": {"group": group, "n": j}}
                    for j in range(i, min(n, i + 500))
                ]
            )
        WRITE_RATES.append(n / (time.perf_counter() - start))


async def async_events(url: str, key: str, n: int) -> float:
    async with AsyncClient(url, key=key) as c:
        group = f"a{time.time_ns()}"
        sub = c.collection("bench").subscribe(where=[("group", "==", group)])
        await sub.ready()
        writer = threading.Thread(target=write_events, args=(url, key, group, n))
        seen = 0
        start = 0.0
        writer.start()
        async for ev in sub:
            if isinstance(ev, ChangeEvent):
                if seen == 0:
                    start = time.perf_counter()
                seen += 1
                if seen == n:
                    break
        elapsed = time.perf_counter() - start
        sub.unsubscribe()
        await asyncio.to_thread(writer.join)
        return (n - 1) / elapsed


def sync_events(url: str, key: str, n: int) -> float:
    with Client(url, key=key) as c:
        group = f"s{time.time_ns()}"
        sub = c.collection("bench").subscribe(where=[("group", "==", group)])
        sub.ready()
        writer = threading.Thread(target=write_events, args=(url, key, group, n))
        seen = 0
        start = 0.0
        writer.start()
        for ev in sub:
            if isinstance(ev, ChangeEvent):
                if seen == 0:
                    start = time.perf_counter()
                seen += 1
                if seen == n:
                    break
        elapsed = time.perf_counter() - start
        sub.close()
        writer.join()
        return (n - 1) / elapsed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url")
    p.add_argument("--key")
    p.add_argument("--requests", type=int, default=2000, help="requests per round and variant")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--events", type=int, default=5000, help="realtime events per round")
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    server = None
    if a.url:
        url, key = a.url.rstrip("/"), a.key
        if not key:
            p.error("--url needs --key (a service key)")
    else:
        from tests.helpers import start_server

        server = start_server()
        url, key = server.url, server.service_key
    try:
        with httpx.Client(headers={"authorization": f"Bearer {key}"}) as admin:
            r = admin.post(f"{url}/v1/db/collections", json={"name": "bench"})
            if r.status_code not in (201, 409):
                raise SystemExit(f"could not create the bench collection: {r.status_code} {r.text}")
            doc_id = admin.post(f"{url}/v1/db/bench", json={"data": {"title": "bench", "n": 1}}).json()["id"]
        doc_url = f"{url}/v1/db/bench/{doc_id}"
        headers = {"authorization": f"Bearer {key}", "accept": "application/json"}
        results: dict[str, list[float]] = {}

        def record(name: str, value: float) -> None:
            results.setdefault(name, []).append(value)

        raw = httpx.Client(headers=headers)
        sdk = Client(url, key=key)
        sdk_posts = sdk.collection("bench")

        def raw_get() -> Any:
            r = raw.get(doc_url)
            r.raise_for_status()
            return r.json()

        async def run_async_round() -> None:
            limits = httpx.Limits(max_connections=a.concurrency, max_keepalive_connections=a.concurrency)
            async with (
                httpx.AsyncClient(headers=headers, limits=limits) as araw,
                httpx.AsyncClient(limits=limits) as pool,
                AsyncClient(url, key=key, http_client=pool) as asdk,
            ):
                aposts = asdk.collection("bench")

                async def araw_get() -> Any:
                    r = await araw.get(doc_url)
                    r.raise_for_status()
                    return r.json()

                await async_requests(50, a.concurrency, araw_get)
                await async_requests(50, a.concurrency, lambda: aposts.get(doc_id))
                record("raw httpx.AsyncClient", await async_requests(a.requests, a.concurrency, araw_get))
                record(
                    "basalt AsyncClient",
                    await async_requests(a.requests, a.concurrency, lambda: aposts.get(doc_id)),
                )

        sync_requests(50, raw_get)
        sync_requests(50, lambda: sdk_posts.get(doc_id))
        for _ in range(a.rounds):
            record("raw httpx.Client", sync_requests(a.requests, raw_get))
            record("basalt Client", sync_requests(a.requests, lambda: sdk_posts.get(doc_id)))
            asyncio.run(run_async_round())
            record("realtime AsyncClient (async for)", asyncio.run(async_events(url, key, a.events)))
            record("realtime Client (for, on its thread)", sync_events(url, key, a.events))
        raw.close()
        sdk.close()
        print(f"\nBasalt Python SDK bench: {a.rounds} rounds, medians ({url})")
        print(f"  get-by-id, {a.requests} requests per round; async with {a.concurrency} in flight")
        for name in ("raw httpx.Client", "basalt Client", "raw httpx.AsyncClient", "basalt AsyncClient"):
            print(f"  {name:40s} {statistics.median(results[name]):9.0f} requests/s")
        print(f"  realtime, {a.events} changes per round (written in batches of 500)")
        for name in ("realtime AsyncClient (async for)", "realtime Client (for, on its thread)"):
            print(f"  {name:40s} {statistics.median(results[name]):9.0f} events/s")
        print(f"  {'(the server wrote them at)':40s} {statistics.median(WRITE_RATES):9.0f} changes/s")
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
