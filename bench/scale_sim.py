#!/usr/bin/env python3
"""The frame index at 10 million videos, simulated: shards measured on this machine, then extrapolated.

    python bench/scale_sim.py                          # 1M items in 10 shards, FAISS on 100k items
    python bench/scale_sim.py --items 200000 --shards 4 --faiss-items 20000 --queries 10

The archive is split by item into shards of equal size (``docs/scale.md``): each shard holds whole
items, its frames' PDQ hashes and the project's index over them (``SampledBitsIndex``, what a check
builds beside an archive). A query (``bench/index.py``'s: 45 noisy copies of a stretch of one item
and 15 unrelated frames, each in the 8 orientations the matcher searches: 480 hashes at radius 64)
fans out to every shard and the hits are merged.

1. **Measured**: ``--items`` synthetic items (``bench/index.py``'s: 60 hashes each, drifting like a
   video's) in ``--shards`` shards, built one after another in this process (so memory is one
   shard's). Every query is searched in every shard: build time, index and hash memory per shard,
   and per-shard query latency. The sharded query at ``--items`` is the slowest shard of each query
   (the shards on separate nodes, in parallel) plus the merge, measured, plus ``--rtt`` for the
   fan-out round trip (an assumption: a LAN, stated in the output).
2. **Extrapolated** to ``--target`` videos at the same shard size: each simulated query takes the
   slowest of ``target / shard size`` shard latencies drawn from that query's measured ones, plus the
   merge scaled to that many shards, plus ``--rtt``; p50 and p99 over ``--draws`` simulated queries.
   Memory per node is what ``--shards-per-node`` shards hold, measured per shard.
3. **FAISS**, in the same run, on one shard of ``--faiss-items`` items (the same synthetic hashes and
   queries): ``IndexBinaryFlat`` (the exact answer), ``IndexBinaryHash``, ``IndexBinaryMultiHash``
   and ``IndexBinaryIVF`` with range search at the same radius, and ``SampledBitsIndex`` on the
   same shard: build seconds, bytes (serialised), query p50/p99, and recall of the exact pairs.
   ``faiss-cpu`` is not a dependency: without it this part is skipped with a message.

This is a benchmark, not a test: it asserts nothing; figures are wall-clock on a possibly shared machine.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from index import FRAMES_PER_ITEM, RADIUS, make_query, synthetic_archive  # noqa: E402  (bench/index.py)

from provenance.archive.index import SampledBitsIndex  # noqa: E402


def shard_queries(hashes: np.ndarray, items: int, count: int, seed: int) -> list[np.ndarray]:
    """``count`` queries copying items of the first shard (so every shard is searched by the same queries:
    one shard holds each query's item, the others answer the cost of a miss)."""
    rng = np.random.default_rng(seed)
    return [make_query(hashes, items, rng)[0] for _ in range(count)]


def merge_seconds(hit_lists: list[np.ndarray], shard_items: int) -> float:
    """Seconds to merge per-shard hits into per-item candidates (concatenate with the shard's offset, group)."""
    started = time.perf_counter()
    rows = [hits + shard * shard_items * FRAMES_PER_ITEM for shard, hits in enumerate(hit_lists)]
    merged = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    np.unique(merged // FRAMES_PER_ITEM, return_counts=True)
    return time.perf_counter() - started


def measure_shards(items: int, shards: int, queries: int, seed: int) -> dict[str, object]:
    """Build each shard in turn and search every query in it; per-shard costs and per-query latencies."""
    shard_items = items // shards
    latencies = np.zeros((queries, shards))
    hit_rows: list[list[np.ndarray]] = [[] for _ in range(queries)]
    builds, index_mb, hashes_mb = [], [], []
    asked: list[np.ndarray] = []
    for shard in range(shards):
        rng = np.random.default_rng(seed + shard)
        hashes = synthetic_archive(shard_items, rng)
        if shard == 0:
            asked = shard_queries(hashes, shard_items, queries, seed + 10_000)
        groups = np.repeat(np.arange(shard_items, dtype=np.int64), FRAMES_PER_ITEM)
        index = SampledBitsIndex()
        started = time.perf_counter()
        index.build(hashes, groups)
        builds.append(time.perf_counter() - started)
        index_mb.append(index.nbytes / 2**20)
        hashes_mb.append((hashes.nbytes + groups.nbytes) / 2**20)
        for q, query in enumerate(asked):
            started = time.perf_counter()
            hits = index.search(query, RADIUS)
            latencies[q, shard] = time.perf_counter() - started
            hit_rows[q].append(np.asarray(hits.ref_idx, dtype=np.int64))
        print(f"  shard {shard + 1}/{shards}: {shard_items:,} items, built in {builds[-1]:.1f} s, "
              f"index {index_mb[-1]:.0f} MB + hashes {hashes_mb[-1]:.0f} MB, query p50 "
              f"{np.median(latencies[:, shard]) * 1000:.1f} ms", flush=True)
        del index, hashes, groups
        gc.collect()
    merges = np.array([merge_seconds(rows, shard_items) for rows in hit_rows])
    return {"shard_items": shard_items, "latencies": latencies, "merges": merges, "builds": builds,
            "index_mb": float(np.mean(index_mb)), "hashes_mb": float(np.mean(hashes_mb))}


def extrapolate(measured: dict[str, object], target: int, rtt: float, draws: int, seed: int) -> np.ndarray:
    """Simulated sharded-query seconds at ``target`` items: per draw, a measured query, the slowest of
    ``target / shard size`` of its shard latencies drawn with replacement, its merge scaled, and ``rtt``."""
    latencies: np.ndarray = measured["latencies"]  # type: ignore[assignment]
    merges: np.ndarray = measured["merges"]  # type: ignore[assignment]
    shards = max(1, target // int(measured["shard_items"]))  # type: ignore[arg-type]
    measured_shards = latencies.shape[1]
    rng = np.random.default_rng(seed)
    out = np.empty(draws)
    for k in range(draws):
        q = int(rng.integers(latencies.shape[0]))
        out[k] = latencies[q, rng.integers(measured_shards, size=shards)].max() + merges[q] * shards / measured_shards
    return out + rtt


def faiss_comparison(items: int, queries: int, seed: int) -> list[tuple[str, float, float, float, float, float]]:
    """(name, build s, MB, p50 ms, p99 ms, pair recall) for FAISS's binary indexes and ours, one shard."""
    import faiss

    rng = np.random.default_rng(seed)
    hashes = synthetic_archive(items, rng)
    asked = shard_queries(hashes, items, queries, seed + 10_000)
    groups = np.repeat(np.arange(items, dtype=np.int64), FRAMES_PER_ITEM)
    exact = faiss.IndexBinaryFlat(256)
    exact.add(hashes)
    truth = []
    for query in asked:
        lims, _, ids = exact.range_search(query, RADIUS + 1)  # FAISS keeps distances < radius: 64 is in
        truth.append({(q, int(i)) for q in range(len(query)) for i in ids[lims[q]:lims[q + 1]]})

    def timed_faiss(name: str, make: object) -> tuple[str, float, float, float, float, float]:
        started = time.perf_counter()
        index = make()  # type: ignore[operator]
        built = time.perf_counter() - started
        size = len(faiss.serialize_index_binary(index)) / 2**20
        seconds, found = [], 0
        for query, pairs in zip(asked, truth, strict=True):
            started = time.perf_counter()
            lims, _, ids = index.range_search(query, RADIUS + 1)
            seconds.append(time.perf_counter() - started)
            got = {(q, int(i)) for q in range(len(query)) for i in ids[lims[q]:lims[q + 1]]}
            found += len(pairs & got)
        total = sum(len(p) for p in truth)
        return (name, built, size, float(np.percentile(seconds, 50)) * 1000, float(np.percentile(seconds, 99)) * 1000,
                found / max(1, total))

    def flat() -> object:
        return exact

    def hashed() -> object:
        index = faiss.IndexBinaryHash(256, 16)
        index.nflip = 2
        index.add(hashes)
        return index

    def multi() -> object:
        index = faiss.IndexBinaryMultiHash(256, 16, 16)  # 16 tables of 16 bits: every bit in one table
        index.nflip = 2
        index.add(hashes)
        return index

    def ivf() -> object:
        quantizer = faiss.IndexBinaryFlat(256)
        index = faiss.IndexBinaryIVF(quantizer, 256, 1024)
        index.train(hashes[rng.choice(len(hashes), min(len(hashes), 100_000), replace=False)])
        index.add(hashes)
        index.nprobe = 32
        return index

    rows = [timed_faiss("IndexBinaryFlat (exact)", flat), timed_faiss("IndexBinaryHash b=16 nflip=2", hashed),
            timed_faiss("IndexBinaryMultiHash 16x16 nflip=2", multi), timed_faiss("IndexBinaryIVF 1024 nprobe=32", ivf)]
    ours = SampledBitsIndex()
    started = time.perf_counter()
    ours.build(hashes, groups)
    built = time.perf_counter() - started
    seconds, found = [], 0
    for query, pairs in zip(asked, truth, strict=True):
        started = time.perf_counter()
        hits = ours.search(query, RADIUS)
        seconds.append(time.perf_counter() - started)
        found += len(pairs & set(zip(hits.query_idx.tolist(), hits.ref_idx.tolist(), strict=True)))
    rows.append(("SampledBitsIndex (provenance)", built, ours.nbytes / 2**20, float(np.percentile(seconds, 50)) * 1000,
                 float(np.percentile(seconds, 99)) * 1000, found / max(1, sum(len(p) for p in truth))))
    return rows


def main() -> None:
    """Measure, extrapolate, compare; print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="items measured, split into shards")
    parser.add_argument("--shards", type=int, default=10, help="shards the measured items are split into")
    parser.add_argument("--queries", type=int, default=20, help="queries searched in every shard")
    parser.add_argument("--target", type=int, default=10_000_000, help="videos to extrapolate to")
    parser.add_argument("--rtt", type=float, default=0.001, help="fan-out round trip in seconds (assumed)")
    parser.add_argument("--draws", type=int, default=2000, help="simulated queries at the target")
    parser.add_argument("--shards-per-node", type=int, default=8, help="shards one node holds")
    parser.add_argument("--faiss-items", type=int, default=100_000, help="items of the FAISS comparison")
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args()

    print(f"measuring {args.items:,} items in {args.shards} shards, {args.queries} queries of 480 hashes at "
          f"radius {RADIUS}", flush=True)
    measured = measure_shards(args.items, args.shards, args.queries, args.seed)
    latencies: np.ndarray = measured["latencies"]  # type: ignore[assignment]
    merges: np.ndarray = measured["merges"]  # type: ignore[assignment]
    shard_items = int(measured["shard_items"])  # type: ignore[arg-type]
    at_measured = latencies.max(axis=1) + merges + args.rtt
    at_target = extrapolate(measured, args.target, args.rtt, args.draws, args.seed)
    per_shard_mb = float(measured["index_mb"]) + float(measured["hashes_mb"])  # type: ignore[arg-type]
    target_shards = max(1, args.target // shard_items)
    print(f"\nsharded query (shards of {shard_items:,} items, {shard_items * FRAMES_PER_ITEM:,} hashes; "
          f"fan-out round trip {args.rtt * 1000:.1f} ms assumed)")
    print(f"{'videos':>12} {'shards':>7} {'p50 ms':>8} {'p99 ms':>8}  source")
    print(f"{shard_items:>12,} {1:>7} {np.percentile(latencies, 50) * 1000:>8.1f} "
          f"{np.percentile(latencies, 99) * 1000:>8.1f}  measured, one shard")
    print(f"{args.items:>12,} {args.shards:>7} {np.percentile(at_measured, 50) * 1000:>8.1f} "
          f"{np.percentile(at_measured, 99) * 1000:>8.1f}  measured: slowest shard + merge + round trip")
    print(f"{args.target:>12,} {target_shards:>7} {np.percentile(at_target, 50) * 1000:>8.1f} "
          f"{np.percentile(at_target, 99) * 1000:>8.1f}  extrapolated ({args.draws} draws)")
    print(f"\nper shard: build {np.mean(measured['builds']):.1f} s, index {measured['index_mb']:.0f} MB, "
          f"hashes and item ids {measured['hashes_mb']:.0f} MB; merge of {args.shards} shards' hits "
          f"p50 {np.median(merges) * 1000:.2f} ms")
    nodes = -(-target_shards // args.shards_per_node)
    print(f"at {args.target:,} videos: {target_shards} shards, {args.shards_per_node} per node = {nodes} nodes "
          f"of {per_shard_mb * args.shards_per_node / 1024:.1f} GB each (index + hashes, memory-mapped)")

    try:
        import faiss  # noqa: F401
    except ImportError:
        print("\nfaiss-cpu is not installed: the FAISS comparison is skipped (pip install faiss-cpu)")
        return
    print(f"\none shard of {args.faiss_items:,} items ({args.faiss_items * FRAMES_PER_ITEM:,} hashes), "
          f"{min(args.queries, 10)} queries, range search at radius {RADIUS}; recall of the exact pairs")
    print(f"{'index':<36} {'build s':>8} {'MB':>7} {'p50 ms':>9} {'p99 ms':>9} {'recall':>7}")
    for name, built, size, p50, p99, recall in faiss_comparison(args.faiss_items, min(args.queries, 10), args.seed):
        print(f"{name:<36} {built:>8.1f} {size:>7.0f} {p50:>9.1f} {p99:>9.1f} {recall:>7.3f}")


if __name__ == "__main__":
    main()
