"""Client traffic for the cluster scenarios: a mixed HTTP load (creates, reads,
queries, uploads, downloads) and realtime subscribers that reconnect and
resume from their last `seq`, every request and message recorded."""
import asyncio
import json
import random
import time
from dataclasses import dataclass, field

import aiohttp

COLLECTION = "items"
BUCKET = "files"


@dataclass
class Request:
    op: str
    method: str
    start: float
    end: float = 0.0
    status: int = 0          # 0: no HTTP answer at all (connection error)
    node: str = ""           # x-basalt-node set by the balancer ("" if none)
    error: str = ""
    ok: bool = False


@dataclass
class LoadResult:
    requests: list = field(default_factory=list)
    created: list = field(default_factory=list)   # (id, n) acknowledged creates

    def failures(self):
        return [r for r in self.requests if not r.ok]

    def latencies_ms(self, ok_only=True):
        return sorted((r.end - r.start) * 1000 for r in self.requests if r.ok or not ok_only)

    def percentile(self, p):
        lat = self.latencies_ms()
        if not lat:
            return float("nan")
        return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))]

    def by_op(self):
        out = {}
        for r in self.requests:
            out.setdefault(r.op, [0, 0])
            out[r.op][0] += 1
            out[r.op][1] += 0 if r.ok else 1
        return out

    def summary(self):
        f = self.failures()
        return (f"{len(self.requests)} requests, {len(f)} failed, "
                f"p50 {self.percentile(50):.1f} ms, p99 {self.percentile(99):.1f} ms, "
                f"by op (count, failed): {self.by_op()}")


EXPECTED = {"create": 201, "get": 200, "query": 200, "upload": 201, "download": 200, "update": 200}


async def _one(session, result, op, method, url, expect, **kw):
    req = Request(op=op, method=method, start=time.monotonic())
    result.requests.append(req)
    try:
        async with session.request(method, url, **kw) as resp:
            body = await resp.read()
            req.status = resp.status
            req.node = resp.headers.get("x-basalt-node", "")
            req.ok = resp.status == expect
            if not req.ok:
                req.error = body[:300].decode(errors="replace")
            return resp.status, body
    except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as e:
        req.error = f"{type(e).__name__}: {e}"
        return 0, b""
    finally:
        req.end = time.monotonic()


async def run_load(base, token, seconds, concurrency=8, seed=1, stop=None, mix=None):
    """Mixed load against `base` for `seconds` (or until `stop` is set).
    Each worker writes its own documents and files and reads back only what
    was acknowledged, so any non-success answer is a real failure."""
    result = LoadResult()
    mix = mix or {"create": 4, "get": 3, "update": 1, "query": 2, "upload": 1, "download": 1}
    ops = [op for op, w in mix.items() for _ in range(w)]
    headers = {"authorization": f"Bearer {token}"}
    deadline = time.monotonic() + seconds
    timeout = aiohttp.ClientTimeout(total=30)
    # Idle connections are given up before the balancer's keep-alive timeout
    # (10 s), so no request is written into a connection it is closing.
    # (The nginx scenario's certificate is made for the run: not verified.)
    connector = aiohttp.TCPConnector(limit=concurrency * 2, keepalive_timeout=5,
                                     ssl=False if base.startswith("https:") else True)

    async def worker(w):
        rng = random.Random(seed * 1000 + w)
        mine, files, n = [], [], 0
        while time.monotonic() < deadline and not (stop and stop.is_set()):
            op = rng.choice(ops)
            if op in ("get", "update") and not mine or op == "download" and not files:
                op = "create"
            if op == "create":
                n += 1
                doc = {"run": seed, "worker": w, "n": n, "text": "x" * rng.randint(10, 400)}
                status, body = await _one(session, result, "create", "POST",
                                          f"{base}/v1/db/{COLLECTION}", 201, json={"data": doc})
                if status == 201:
                    d = json.loads(body)
                    mine.append(d["id"])
                    result.created.append((d["id"], w, n))
            elif op == "get":
                await _one(session, result, "get", "GET",
                           f"{base}/v1/db/{COLLECTION}/{rng.choice(mine)}", 200)
            elif op == "update":
                await _one(session, result, "update", "PATCH",
                           f"{base}/v1/db/{COLLECTION}/{rng.choice(mine)}", 200,
                           json={"increment": {"hits": 1}})
            elif op == "query":
                await _one(session, result, "query", "POST", f"{base}/v1/db/{COLLECTION}/query", 200,
                           json={"where": [["worker", "==", w], ["n", ">=", max(0, n - 20)]],
                                 "order_by": [["n", "desc"]], "limit": 10})
            elif op == "upload":
                path = f"w{w}/{len(files)}.txt"
                status, _ = await _one(session, result, "upload", "PUT",
                                       f"{base}/v1/storage/{BUCKET}/{path}", 201,
                                       data=rng.randbytes(rng.randint(100, 12000)),
                                       headers={"content-type": "text/plain"})
                if status == 201:
                    files.append(path)
            elif op == "download":
                await _one(session, result, "download", "GET",
                           f"{base}/v1/storage/{BUCKET}/{rng.choice(files)}", 200)

    async with aiohttp.ClientSession(headers=headers, timeout=timeout, connector=connector) as session:
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return result


class Subscriber:
    """One realtime client subscribed to every change of the collection. When
    its socket ends (a node killed or stopped) it reconnects to `reconnect_url`
    (the balancer) and resumes from the last `seq` it received."""

    def __init__(self, name, url, token, reconnect_url=None, collection=COLLECTION):
        self.name = name
        self.url = url
        self.token = token
        self.reconnect_url = reconnect_url
        self.collection = collection
        self.changes = []          # (seq, op, id)
        self.position = None       # last seq (subscribed / change / checkpoint)
        self.connections = []      # (time, node that answered the handshake)
        self.disconnects = []      # times a socket ended
        self.errors = []
        self.subscribed = asyncio.Event()
        self._stop = asyncio.Event()
        self._ws = None
        self.task = None

    def start(self, session):
        self.task = asyncio.create_task(self._run(session))
        return self

    async def stop(self):
        self._stop.set()
        if self._ws is not None:
            await self._ws.close()
        if self.task:
            await self.task

    async def _run(self, session):
        url = self.url
        while not self._stop.is_set():
            try:
                async with session.ws_connect(url, headers={"authorization": f"Bearer {self.token}"},
                                              heartbeat=None, timeout=aiohttp.ClientWSTimeout(ws_close=2),
                                              ssl=False if url.startswith("wss:") else True) as ws:
                    self._ws = ws
                    self.connections.append((time.monotonic(), ws._response.headers.get("x-basalt-node", url)))
                    msg = {"type": "subscribe", "id": "s1", "collection": self.collection}
                    if self.position is not None:
                        msg["resume_from"] = self.position
                    await ws.send_str(json.dumps(msg))
                    async for frame in ws:
                        if frame.type != aiohttp.WSMsgType.TEXT:
                            break
                        m = json.loads(frame.data)
                        t = m.get("type")
                        if t == "subscribed":
                            if self.position is None:
                                self.position = m["seq"]
                            self.subscribed.set()
                        elif t == "change":
                            self.changes.append((m["seq"], m["op"], m["document"]["id"]))
                            self.position = m["seq"]
                        elif t == "checkpoint":
                            self.position = max(self.position or 0, m["seq"])
                        elif t == "error":
                            self.errors.append(m)
            except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as e:
                self.errors.append({"type": "connect", "error": f"{type(e).__name__}: {e}"})
                await asyncio.sleep(0.05)
            except RuntimeError:
                # The client session closed under us: the scenario is over (failed).
                break
            finally:
                self._ws = None
            if self._stop.is_set():
                break
            self.disconnects.append(time.monotonic())
            if self.reconnect_url is None:
                self.errors.append({"type": "closed", "error": "socket ended and no reconnect address"})
                break
            url = self.reconnect_url

    def check_sequence(self):
        """Every seq once, strictly increasing: returns a list of problems."""
        problems = []
        seqs = [c[0] for c in self.changes]
        for a, b in zip(seqs, seqs[1:]):
            if b <= a:
                problems.append(f"{self.name}: seq {b} after {a}")
        return problems
