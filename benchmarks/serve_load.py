"""Benchmark: a bounded load test of ``motiongpt2 serve`` on loopback, with and without request batching.

For each mode the server runs as its own process (``motiongpt2 serve --max-batch B``) on a free port;
after two warm-up requests:

1. ``--clients`` closed-loop clients (each sends ``POST /v1/generate`` again as soon as its answer
   arrives: varied texts, own seeds, ``--length`` frames) for ``--duration`` seconds;
2. a burst of ``--burst`` requests sent at once.

Reported per mode and phase: completed requests per second, p50 / p99 latency, errors (anything but
200 and 429) and 429s counted apart; the server's resident memory (``/proc/PID/status`` VmRSS, sampled
every 0.25 s): after warm-up, peak, and at the end.

Writes BENCHMARKS.md's "Serving" section.
Usage: python benchmarks/serve_load.py --model runs/lm_smollm2_instruct [--clients 8] [--duration 60]
       [--burst 64] [--threads 2] [--length 120]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _report import write_section

TEXTS = ["a person walks forward", "a person jumps up and down", "someone waves with the right hand",
         "a person turns around and sits down", "a man runs in a circle", "a person kicks with the left foot",
         "someone walks backwards slowly", "a person raises both arms above the head"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


class Sampler(threading.Thread):
    """Resident memory of ``pid`` every ``every`` seconds: ``samples`` of ``(time, MB)``."""

    def __init__(self, pid: int, every: float = 0.25):
        super().__init__(daemon=True)
        self.pid, self.every, self.samples, self.stop = pid, every, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((time.perf_counter(), rss_mb(self.pid)))
            time.sleep(self.every)


def start_server(model: Path, max_batch: int, threads: int, out: Path, port: int, timeout: float) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "motiongpt2.cli", "serve", "-m", str(model), "--port", str(port), "--out", str(out),
           "--max-batch", str(max_batch), "--threads", str(threads), "--queue-size", "128", "--timeout", str(timeout),
           "--max-concurrency", "512"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("server not ready after 300 s")


async def one(client: httpx.AsyncClient, i: int, length: int) -> tuple[int, float, int]:
    body = {"text": TEXTS[i % len(TEXTS)], "seed": i, "length": length}
    t0 = time.perf_counter()
    try:
        r = await client.post("/v1/generate", json=body)
        status, batch = r.status_code, (r.json().get("batch_size", 0) if r.status_code == 200 else 0)
    except httpx.HTTPError:
        status, batch = -1, 0
    return status, time.perf_counter() - t0, batch


async def closed_loop(url: str, clients: int, duration: float, length: int) -> tuple[list, float]:
    results: list = []
    counter = iter(range(10**9))
    end = time.perf_counter() + duration

    async def client_loop(client):
        while time.perf_counter() < end:
            results.append(await one(client, next(counter), length))

    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:
        await asyncio.gather(*[client_loop(client) for _ in range(clients)])
    return results, time.perf_counter() - t0


async def burst(url: str, n: int, length: int) -> tuple[list, float]:
    t0 = time.perf_counter()
    limits = httpx.Limits(max_connections=n + 8)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:
        results = await asyncio.gather(*[one(client, 10**6 + i, length) for i in range(n)])
    return list(results), time.perf_counter() - t0


def summary(results: list, wall: float) -> dict:
    ok = [lat for status, lat, _ in results if status == 200]
    lat = sorted(ok)
    p = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan"))
    batches = [b for status, _, b in results if status == 200]
    return {"n": len(results), "ok": len(ok), "rps": len(ok) / wall, "p50": p(0.5), "p99": p(0.99),
            "errors": sum(1 for s, _, _ in results if s not in (200, 429)),
            "429": sum(1 for s, _, _ in results if s == 429),
            "mean_batch": statistics.mean(batches) if batches else 0.0, "wall": wall}


def run_mode(args, max_batch: int) -> dict:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="mg2-serve-bench-") as out:
        proc = start_server(args.model, max_batch, args.threads, Path(out), port, args.timeout)
        url = f"http://127.0.0.1:{port}"
        sampler = Sampler(proc.pid)
        sampler.start()
        try:
            asyncio.run(burst(url, 2, args.length))                       # warm-up
            warm_rss = rss_mb(proc.pid)
            print(f"max_batch {max_batch}: warm, {warm_rss:.0f} MB; {args.clients} clients for {args.duration:g} s",
                  flush=True)
            loop = summary(*asyncio.run(closed_loop(url, args.clients, args.duration, args.length)))
            print(f"  loop {loop}", flush=True)
            bst = summary(*asyncio.run(burst(url, args.burst, args.length)))
            print(f"  burst {bst}", flush=True)
            end_rss = rss_mb(proc.pid)
        finally:
            sampler.stop.set()
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
    peak = max(mb for _, mb in sampler.samples) if sampler.samples else 0.0
    return {"max_batch": max_batch, "loop": loop, "burst": bst, "warm_rss": warm_rss, "peak_rss": peak,
            "end_rss": end_rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=Path("runs/lm_smollm2_instruct"), help="train-lm run or step folder")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--burst", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--length", type=int, default=120, help="frames per generated motion")
    ap.add_argument("--batch", type=int, default=8, help="--max-batch of the batching mode")
    ap.add_argument("--timeout", type=float, default=600.0, help="server --timeout (s)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args()

    modes = [run_mode(args, args.batch), run_mode(args, 1)]
    lines = [f"`motiongpt2 serve -m {args.model}` on loopback, {args.threads} torch threads, one server process; "
             f"`POST /v1/generate` of {args.length}-frame motions (varied texts, own seeds). Closed loop: "
             f"{args.clients} clients, each sending its next request when its answer arrives, for "
             f"{args.duration:g} s; then a burst of {args.burst} requests at once. Errors: any status but 200 and "
             "429 (429s counted apart). Memory: the server's resident set (VmRSS).", "",
             "| mode | phase | requests | req/s | p50 (s) | p99 (s) | mean batch | errors | 429 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m in modes:
        name = f"batching (max {m['max_batch']})" if m["max_batch"] > 1 else "no batching (max 1)"
        for phase in ("loop", "burst"):
            s = m[phase]
            label = f"{args.clients} clients, {args.duration:g} s" if phase == "loop" else f"burst of {args.burst}"
            lines.append(f"| {name} | {label} | {s['ok']}/{s['n']} | {s['rps']:.2f} | {s['p50']:.2f} | "
                         f"{s['p99']:.2f} | {s['mean_batch']:.1f} | {s['errors']} | {s['429']} |")
    lines += ["", "| mode | RSS after warm-up (MB) | peak RSS (MB) | RSS at the end (MB) |", "|---|---|---|---|"]
    for m in modes:
        lines.append(f"| max batch {m['max_batch']} | {m['warm_rss']:.0f} | {m['peak_rss']:.0f} | {m['end_rss']:.0f} |")
    b, n = modes[0], modes[1]
    lines += ["", f"Batching serves {b['loop']['rps'] / n['loop']['rps']:.2f}x the requests per second of one-by-one "
              f"decoding under {args.clients} clients and {b['burst']['rps'] / n['burst']['rps']:.2f}x in the burst "
              f"(p50 latency {b['loop']['p50']:.2f} s vs {n['loop']['p50']:.2f} s)."]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("Serving (`benchmarks/serve_load.py`)", "python benchmarks/serve_load.py " + " ".join(sys.argv[1:]),
                      body)


if __name__ == "__main__":
    main()
