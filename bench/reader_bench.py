"""How fast the understanding layer reads a candidate message, cold (no cache), against the
embedding of the same sentences alone, measured in the same run.

The messages are the scripted candidates of ``bench/agents/*.yaml`` (natural wording, every
built-in persona). Printed: ms per message (p50, p95), messages per second, and the share of
the time spent embedding. Usage: python bench/reader_bench.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from roleplay.core.library import PersonaLibrary, builtin_dir  # noqa: E402
from roleplay.understanding import Context, local_reader  # noqa: E402
from roleplay.understanding.features import Encoder, _cached  # noqa: E402
from roleplay.understanding.local import sentences  # noqa: E402


def messages() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for path in sorted((HERE / "agents").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for script in data["scripts"]:
            out += [(data["persona"], str(m)) for m in script["messages"]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    library = PersonaLibrary.load([builtin_dir()])
    reader = local_reader()
    items = messages()
    # warm the models and each persona's item index once, outside the timings
    for persona in library:
        reader.read_candidate("Hello.", persona, Context())
    read_ms: list[float] = []
    embed_ms: list[float] = []
    for _ in range(args.repeat):
        for persona_id, text in items:
            persona = library.get(persona_id)
            _cached.cache_clear()
            t0 = time.perf_counter()
            reader.read_candidate(text, persona, Context())
            read_ms.append((time.perf_counter() - t0) * 1000)
            parts = sentences(text)
            t0 = time.perf_counter()
            Encoder.embed(parts)
            embed_ms.append((time.perf_counter() - t0) * 1000)

    def p(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1]

    total = sum(read_ms) / 1000
    print(f"Reader, {len(items)} messages x {args.repeat}, cold sentence cache")
    print(f"  read          p50 {p(read_ms, 50):6.2f} ms   p95 {p(read_ms, 95):6.2f} ms")
    print(f"  embed alone   p50 {p(embed_ms, 50):6.2f} ms   p95 {p(embed_ms, 95):6.2f} ms")
    print(f"  messages/s    {len(read_ms) / total:8.0f}")
    print(f"  read / embed  {statistics.median(read_ms) / statistics.median(embed_ms):6.1f}x (p50)")


if __name__ == "__main__":
    main()
