"""Regenerates src/basalt/generated/openapi.py from the server's OpenAPI document
(`$BASALT_BIN openapi`) with datamodel-code-generator: one TypedDict per schema, the wire shapes
the facade reads. `--check` fails when the committed file differs from a fresh one.

    BASALT_BIN=path/to/basalt python scripts/generate_models.py [--check]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

from datamodel_code_generator import (  # type: ignore[attr-defined]
    DataModelType,
    Formatter,
    InputFileType,
    PythonVersion,
    generate,
)

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "src/basalt/generated/openapi.py"
HEADER = (
    "# Generated from `basalt openapi` by datamodel-code-generator (scripts/generate_models.py): do not edit.\n"
    "# Regenerate with `BASALT_BIN=... python scripts/generate_models.py`."
)


def spec_text() -> str:
    binary = os.environ.get("BASALT_BIN") or str(Path.home() / ".cache/basalt-target/debug/basalt")
    try:
        out = subprocess.run([binary, "openapi"], check=True, capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise SystemExit(f"could not run `{binary} openapi` ({e}); set BASALT_BIN to a built basalt binary") from e
    # Sorted keys: the same document always gives the same models.
    return json.dumps(json.loads(out), sort_keys=True)


def render() -> str:
    # The generator warns about integer formats it maps to int (uint16, uint64): nothing to act on.
    warnings.simplefilter("ignore")
    text = generate(
        spec_text(),
        input_file_type=InputFileType.OpenAPI,
        output_model_type=DataModelType.TypingTypedDict,
        target_python_version=PythonVersion.PY_310,
        disable_timestamp=True,
        use_standard_collections=True,
        use_union_operator=True,
        use_schema_description=True,
        formatters=[Formatter.BUILTIN],
        custom_file_header=HEADER,
    )
    return str(text).rstrip("\n") + "\n"


def main() -> int:
    fresh = render()
    if "--check" in sys.argv[1:]:
        committed = TARGET.read_text("utf-8") if TARGET.exists() else ""
        if committed != fresh:
            a, b = committed.splitlines(), fresh.splitlines()
            i = next((n for n, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
            print(f"{TARGET.relative_to(ROOT)} is out of date (first difference at line {i + 1}):")
            print(f"  committed: {a[i] if i < len(a) else '<end of file>'}")
            print(f"  generated: {b[i] if i < len(b) else '<end of file>'}")
            print("run `python scripts/generate_models.py` with BASALT_BIN set, and commit the result")
            return 1
        print(f"{TARGET.relative_to(ROOT)} matches `basalt openapi`")
        return 0
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(fresh, "utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
