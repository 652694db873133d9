"""Load on loopback: N concurrent candidates against the web app, and against a bare Gradio
ChatInterface over the same engine (the baseline), measured in the same run.

For each backend (the scripted engine; the LLM engine against the loopback fake server, which
streams every reply with a fixed delay) and each N (default 8, 32, 64), every candidate opens
its invite, starts, and sends the four messages of a good candidate (the conversation ends
resolved). Printed: turns per second, p50/p95 latency per turn, errors, and the latency the
product adds over the baseline. Bounded: a fixed number of turns, a timeout per call; only
127.0.0.1 is contacted.

Usage: python bench/load_bench.py [--candidates 8,32,64] [--llm-delay 0.05]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from gradio_queue import GradioCaller  # noqa: E402
from tqdm import tqdm  # noqa: E402

from roleplay.storage.store import Store  # noqa: E402
from roleplay.testing import FakeChatServer, FakeReply  # noqa: E402
from tests.scripts import GOOD  # noqa: E402

ROLEPLAY = Path(sys.executable).parent / "roleplay"
LLM_REPLY = "Okay. Tell me exactly what happens next and when it ships, please."


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


def start(cmd: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    wait_healthy(f"http://127.0.0.1:{port}", proc)
    return proc


def product_candidate(base: str, token: str, latencies: list[float], errors: list[str]) -> None:
    caller = GradioCaller(f"{base}/candidate", {"token": token})
    try:
        caller.call("open", [])
        caller.call("start", [None])
        for message in GOOD:
            t0 = time.perf_counter()
            caller.call("send", [message, None, None])
            latencies.append(time.perf_counter() - t0)
    except Exception as exc:  # counted, not fatal: this is a load test
        errors.append(f"{type(exc).__name__}: {exc}"[:200])
    finally:
        caller.close()


def baseline_candidate(base: str, latencies: list[float], errors: list[str]) -> None:
    caller = GradioCaller(f"{base}/chat")
    try:
        for message in GOOD:
            t0 = time.perf_counter()
            caller.call("chat", [message, []])
            latencies.append(time.perf_counter() - t0)
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}"[:200])
    finally:
        caller.close()


def run_wave(
    n: int, worker: object, args: list[tuple[object, ...]]
) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def one(a: tuple[object, ...]) -> None:
        local_lat: list[float] = []
        local_err: list[str] = []
        worker(*a, local_lat, local_err)  # type: ignore[operator]
        with lock:
            latencies.extend(local_lat)
            errors.extend(local_err)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(one, args))
    return latencies, errors, time.perf_counter() - t0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candidates", default="8,32,64")
    parser.add_argument("--llm-delay", type=float, default=0.05)
    args = parser.parse_args()
    waves = [int(x) for x in args.candidates.split(",")]
    work = Path(tempfile.mkdtemp(prefix="roleplay-load-"))
    results: list[tuple[str, int, str, list[float], list[str], float]] = []
    fake = FakeChatServer(
        default=lambda body: FakeReply(content=LLM_REPLY, delay=args.llm_delay)
    ).start()
    try:
        for backend in ("scripted", "fake-llm"):
            env = {
                k: v for k, v in os.environ.items() if not k.startswith(("ROLEPLAY_", "OPENAI_"))
            }
            env["ROLEPLAY_HOME"] = str(work / backend)
            if backend == "fake-llm":
                env.update(ROLEPLAY_LLM_BASE_URL=fake.url, ROLEPLAY_PERSONA_MODEL="fake")
            port, base_port = free_port(), free_port()
            product = start(
                [str(ROLEPLAY), "serve", "--port", str(port)],
                env,
                port,
                work / f"{backend}-product.log",
            )
            baseline = start(
                [sys.executable, str(HERE / "baseline_app.py"), "--port", str(base_port)],
                env,
                base_port,
                work / f"{backend}-baseline.log",
            )
            store = Store.open(f"sqlite:///{work / backend / 'roleplay.db'}")
            try:
                for n in tqdm(waves, desc=f"{backend} waves", file=sys.stderr):
                    base = f"http://127.0.0.1:{base_port}"
                    lat, err, wall = run_wave(n, baseline_candidate, [(base,)] * n)
                    results.append((backend, n, "baseline", lat, err, wall))
                    tokens = [store.create_invite("damaged-laptop", "practice") for _ in range(n)]
                    url = f"http://127.0.0.1:{port}"
                    lat, err, wall = run_wave(n, product_candidate, [(url, t) for t in tokens])
                    results.append((backend, n, "product", lat, err, wall))
            finally:
                store.close()
                for proc in (product, baseline):
                    proc.terminate()
                    proc.wait(timeout=20)
    finally:
        fake.stop()

    print("\nLoad on loopback: 4 turns per candidate (damaged-laptop, good candidate)")
    print(
        f"{'backend':<9} {'N':>3} {'server':<9} {'turns/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'errors':>6}"
    )
    by_key = {(b, n, s): (lat, err, wall) for b, n, s, lat, err, wall in results}
    for backend, n, server, lat, err, wall in results:
        print(
            f"{backend:<9} {n:>3} {server:<9} {len(lat) / wall:8.1f} {pct(lat, 0.5):8.1f} "
            f"{pct(lat, 0.95):8.1f} {len(err):>6}"
        )
    print("\nAdded latency per turn (product minus baseline, same run):")
    for backend in ("scripted", "fake-llm"):
        for n in waves:
            p, _, _ = by_key[(backend, n, "product")]
            b, _, _ = by_key[(backend, n, "baseline")]
            if p and b:
                print(
                    f"  {backend:<9} N={n:<3} p50 {pct(p, 0.5) - pct(b, 0.5):+8.1f} ms   "
                    f"p95 {pct(p, 0.95) - pct(b, 0.95):+8.1f} ms   "
                    f"ratio p50 {statistics.median(p) / statistics.median(b):5.2f}x"
                )
    errors = [e for *_, err, _ in results for e in err]
    if errors:
        print(f"\nfirst errors: {errors[:3]}")


if __name__ == "__main__":
    main()
