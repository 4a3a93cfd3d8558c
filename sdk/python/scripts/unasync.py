"""Writes the sync client from the async source: src/basalt/_async -> src/basalt/generated/sync,
and the async tests into their sync twins: tests/aio -> tests/sync.

    python scripts/unasync.py          # regenerate
    python scripts/unasync.py --check  # fail when a generated file is not what the source gives

The rules are textual and few: `async def`/`async for`/`async with` lose `async`, `await` goes,
`Async<Name>` becomes `<Name>`, `async_<name>` becomes `sync_<name>`, and the async-only dunders
and httpx methods map to their sync twins. Code written for both keeps to what these rules can
carry (realtime is the exception: the sync client runs the async one on a thread).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: (source, target, rules for that target only): the sync client sits one package deeper.
PAIRS: list[tuple[Path, Path, list[tuple[re.Pattern[str], str]]]] = [
    (ROOT / "src/basalt/_async", ROOT / "src/basalt/generated/sync", [(re.compile(r"^from \.\.(?=\w)"), "from ...")]),
    (ROOT / "tests/aio", ROOT / "tests/sync", []),
]

RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), r)
    for p, r in [
        (r"\basync def\b", "def"),
        (r"\basync for\b", "for"),
        (r"\basync with\b", "with"),
        (r"\bawait ", ""),
        (r"__aenter__", "__enter__"),
        (r"__aexit__", "__exit__"),
        (r"__aiter__", "__iter__"),
        (r"__anext__", "__next__"),
        (r"\bStopAsyncIteration\b", "StopIteration"),
        (r"\basynccontextmanager\b", "contextmanager"),
        (r"\baiter_bytes\b", "iter_bytes"),
        (r"\baiter_upload\b", "iter_upload"),
        (r"\baread\b", "read"),
        (r"\baclose\b", "close"),
        (r"\banext\(", "next("),
        (r"from \.\.realtime import", "from ..realtime_sync import"),
        (r"from basalt\.realtime import", "from basalt.realtime_sync import"),
        (r"\btests\.aio\b", "tests.sync"),
        (r"\bAsync([A-Z]\w*)", r"\1"),
        (r"\basync_(\w+)", r"sync_\1"),
        (r"\basyncio\.gather\(", "sync_gather("),
    ]
]


def header(src: Path) -> str:
    rel = src.relative_to(ROOT)
    return (
        f"# Generated from {rel} by scripts/unasync.py: do not edit.\n# Regenerate with `python scripts/unasync.py`.\n"
    )


def convert(src: Path, extra: list[tuple[re.Pattern[str], str]]) -> str:
    text = src.read_text("utf-8")
    out = []
    for line in text.splitlines(keepends=True):
        if "# unasync: skip" in line:
            continue
        for pat, rep in RULES + extra:
            line = pat.sub(rep, line)
        out.append(line)
    return header(src) + "".join(out)


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale: list[str] = []
    for src_dir, dst_dir, extra in PAIRS:
        want = {dst_dir / s.name: convert(s, extra) for s in sorted(src_dir.glob("*.py"))}
        have = {p: p.read_text("utf-8") for p in dst_dir.glob("*.py")} if dst_dir.exists() else {}
        for path, text in want.items():
            if have.get(path) != text:
                stale.append(str(path.relative_to(ROOT)))
                if not check:
                    dst_dir.mkdir(parents=True, exist_ok=True)
                    path.write_text(text, "utf-8")
        for path in have.keys() - want.keys():
            stale.append(f"{path.relative_to(ROOT)} (no source)")
            if not check:
                path.unlink()
    if check and stale:
        print("the sync code is not what scripts/unasync.py makes of the async source:")
        for s in stale:
            print(f"  {s}")
        print("run `python scripts/unasync.py` and commit the result")
        return 1
    print("sync code up to date" if check else f"wrote {len(stale)} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
