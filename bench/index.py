#!/usr/bin/env python3
"""How the archive's frame index scales: synthetic archives of 10k, 100k and 1M items.

    python bench/index.py                      # 10k, 100k and 1M items: about 5 minutes, 6 GB at the peak
                                               # (1M, the brute force holding its own copy of the hashes)
    python bench/index.py --sizes 10000,100000 --queries 30

Each archived item is 60 PDQ hashes (256 bits) that drift the way a video's frames do: a random
start, then a random walk that flips 1 to 4 bits per frame. A query is what ``check`` asks the index
for a 60-frame clip: 45 frames that are noisy copies (10 to 30 of 256 bits flipped) of a stretch of
one archived item, 15 unrelated frames, and every frame in the 8 orientations the matcher searches
(the 7 turned variants of a synthetic hash are unrelated hashes): 480 hashes at radius 64.

Each size runs in a fresh process (so memory figures are its own), in the phases a real process
goes through: build the index and save it (what the first ``check`` against an archive does), then
drop it, reopen the saved folder (memory-mapped) and query it (what every later ``check`` does), then the brute force.
Memory is the resident set size from /proc/self/status: VmRSS at the end of a phase, and VmHWM, the
peak within the phase (reset between phases by writing 5 to /proc/self/clear_refs; where that is
refused, the peak since the process started, and the output says so). The hashes and the group ids
the index is built with are resident in every phase and counted in every figure; the brute force's
own copy of the hashes is only counted in its phase. The process's overall peak is the largest of
the phase peaks.

Query p50 and p99 are over the queries, on the reopened index, and the same figures for a brute-force
numpy scan of every hash, measured in the same run on part of each query's hashes and scaled to all
480 (a full scan of 60M hashes takes minutes per query). Recall is the share of the brute-force pairs
(query hash, archive hash, distance <= 64) that the index returns, on those same hashes; items are
the archived items the brute force finds. Timings are wall-clock and noisy on a shared machine: each
size runs its queries in a loop and reports percentiles. No figure here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from provenance.archive.index import SampledBitsIndex, linear_search, to_words  # noqa: E402

FRAMES_PER_ITEM = 60
RADIUS = 64  # provenance.match.align.CANDIDATE_RADIUS
NEAR, UNRELATED, ORIENTATIONS = 45, 15, 8


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB: VmRSS and VmHWM from /proc."""
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def reset_peak() -> bool:
    """Start a new peak (VmHWM := VmRSS); False when the kernel refuses, and the peak runs on."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


def synthetic_archive(items: int, rng: np.random.Generator) -> np.ndarray:
    """(items * 60, 32) uint8: per item a random start hash, then 1-4 random bits flipped per frame."""
    hashes = np.empty((items, FRAMES_PER_ITEM, 32), dtype=np.uint8)
    current = rng.integers(0, 256, (items, 32), dtype=np.uint8)
    rows = np.arange(items)
    for j in range(FRAMES_PER_ITEM):
        flips = rng.integers(1, 5, items)
        for k in range(4):
            bit = rng.integers(0, 256, items)
            who = rows[flips > k]
            current[who, bit[who] // 8] ^= (128 >> (bit[who] % 8)).astype(np.uint8)
        hashes[:, j] = current
    return hashes.reshape(items * FRAMES_PER_ITEM, 32)


def flip_bits(hashes: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of (n, 32) hashes with counts[i] distinct random bits flipped in row i."""
    bits = np.unpackbits(hashes, axis=1)
    for i, count in enumerate(counts):
        bits[i, rng.choice(256, int(count), replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def make_query(hashes: np.ndarray, items: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """(480, 32) query hashes (frame-major, 8 orientations each) and the archived item they copy."""
    item = int(rng.integers(items))
    start = int(rng.integers(0, FRAMES_PER_ITEM - NEAR + 1))
    source = hashes[item * FRAMES_PER_ITEM + start : item * FRAMES_PER_ITEM + start + NEAR]
    near = flip_bits(source, rng.integers(10, 31, NEAR), rng)
    frames = np.concatenate([near, rng.integers(0, 256, (UNRELATED, 32), dtype=np.uint8)])
    frames = frames[rng.permutation(len(frames))]
    turned = rng.integers(0, 256, (len(frames), ORIENTATIONS - 1, 32), dtype=np.uint8)
    return np.concatenate([frames[:, None], turned], axis=1).reshape(-1, 32), item


def brute_force(columns: np.ndarray, queries: np.ndarray, radius: int) -> set[tuple[int, int]]:
    """Every (query row, archive row) within ``radius``: the project's linear numpy scan (``LinearIndex``)."""
    hits = linear_search(columns, to_words(queries), radius)
    return set(zip(hits.query_idx.tolist(), hits.ref_idx.tolist(), strict=True))


def run_one(items: int, queries: int, brute_hashes: int, seed: int, probe_bits: int) -> dict[str, object]:
    """Build and save, reopen and query, then brute-force one synthetic archive; figures as a dict."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    hashes = synthetic_archive(items, rng)
    groups = np.repeat(np.arange(items, dtype=np.int64), FRAMES_PER_ITEM)  # as check's item_rows: int64
    made = time.perf_counter() - t0
    asked = [make_query(hashes, items, rng)[0] for _ in range(queries)]
    rss_data, peak_data = rss_mb()

    # phase 1: build and save
    resets = reset_peak()
    index = SampledBitsIndex(probe_bits=probe_bits)
    t0 = time.perf_counter()
    index.build(hashes, groups)
    build = time.perf_counter() - t0
    rss_built, peak_built = rss_mb()
    index_mb = index.nbytes / 2**20
    tmp = tempfile.TemporaryDirectory()
    path = Path(tmp.name) / "archive.sqlite.idx"
    t0 = time.perf_counter()
    index.save(path, key="bench")
    save = time.perf_counter() - t0
    _, peak_saved = rss_mb()
    file_mb = sum(f.stat().st_size for f in path.iterdir()) / 2**20
    fresh = [index.search(query, RADIUS) for query in asked[:3]]
    del index
    gc.collect()

    # phase 2: reopen and query, the built index gone
    rss_dropped, _ = rss_mb()
    reset_peak()
    t0 = time.perf_counter()
    reopened = SampledBitsIndex.load(path, hashes)
    load = time.perf_counter() - t0
    rss_open, _ = rss_mb()
    index_ms, found = [], []
    for query in asked:
        t0 = time.perf_counter()
        hits = reopened.search(query, RADIUS)
        index_ms.append((time.perf_counter() - t0) * 1000)
        found.append(hits)
    same_as_fresh = all(np.array_equal(a, b) for f, h in zip(fresh, found, strict=False) for a, b in zip(
        (f.query_idx, f.ref_idx, f.distance), (h.query_idx, h.ref_idx, h.distance), strict=True))
    rss_queried, peak_open = rss_mb()
    tmp.cleanup()

    # phase 3: the brute force, with its own (word-major) copy of the hashes
    reset_peak()
    columns = np.ascontiguousarray(to_words(hashes).T)  # LinearIndex's layout
    brute_ms = []
    pairs_brute = pairs_found = items_brute = items_found = 0
    for query, hits in zip(asked, found, strict=True):
        # the brute force takes the upright hashes first (those that carry matches), then turned ones
        part = np.r_[np.arange(0, len(query), ORIENTATIONS), np.arange(len(query))][:brute_hashes]
        part = np.unique(part)
        t0 = time.perf_counter()
        truth = brute_force(columns, query[part], RADIUS)
        brute_ms.append((time.perf_counter() - t0) * 1000 * len(query) / len(part))
        position = {int(q): i for i, q in enumerate(part)}
        got = {(position[int(q)], int(r)) for q, r in zip(hits.query_idx, hits.ref_idx, strict=True)
               if int(q) in position}
        pairs_brute += len(truth)
        pairs_found += len(truth & got)
        true_items = {r // FRAMES_PER_ITEM for _, r in truth}
        items_brute += len(true_items)
        items_found += len(true_items & {r // FRAMES_PER_ITEM for _, r in got})
    _, peak_brute = rss_mb()
    p = np.percentile
    return {
        "items": items, "hashes": len(hashes), "make_s": round(made, 1), "build_s": round(build, 2),
        "save_s": round(save, 2), "load_s": round(load, 2), "file_mb": round(file_mb, 1),
        "index_mb": round(index_mb, 1), "hashes_mb": round(hashes.nbytes / 2**20, 1),
        "groups_mb": round(groups.nbytes / 2**20, 1), "peak_resets": resets,
        "rss_data_mb": round(rss_data), "rss_built_mb": round(rss_built), "rss_peak_build_mb": round(peak_built),
        "rss_peak_save_mb": round(peak_saved), "rss_dropped_mb": round(rss_dropped), "rss_open_mb": round(rss_open),
        "rss_queried_mb": round(rss_queried), "rss_peak_open_mb": round(peak_open),
        "rss_peak_brute_mb": round(peak_brute),
        "rss_peak_mb": round(max(peak_data, peak_saved, peak_open, peak_brute)),
        "queries": queries, "query_hashes": NEAR + UNRELATED,
        "p50_ms": round(float(p(index_ms, 50)), 1), "p99_ms": round(float(p(index_ms, 99)), 1),
        "brute_p50_ms": round(float(p(brute_ms, 50)), 1), "brute_p99_ms": round(float(p(brute_ms, 99)), 1),
        "brute_hashes_per_query": int(min(brute_hashes, (NEAR + UNRELATED) * ORIENTATIONS)),
        "pair_recall": round(pairs_found / max(1, pairs_brute), 4), "brute_pairs": pairs_brute,
        "item_recall": round(items_found / max(1, items_brute), 4),
        "reloaded_equals_fresh": bool(same_as_fresh), "probe_bits": probe_bits,
    }


def main(argv: list[str] | None = None) -> int:
    """Run every size in its own process and print one table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000", help="archive sizes in items, comma-separated")
    ap.add_argument("--queries", type=int, default=40, help="queries per size (fewer are run at 1M)")
    ap.add_argument("--brute-hashes", type=int, default=0,
                    help="query hashes the brute force scans per query (default: all 480 at 10k, 32 at 100k, 6 at 1M)")
    ap.add_argument("--probe-bits", type=int, default=1, choices=(0, 1), help="SampledBitsIndex probe_bits")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        brute = args.brute_hashes or (480 if args.one <= 10_000 else 32 if args.one <= 100_000 else 6)
        print(json.dumps(run_one(args.one, args.queries, brute, args.seed, args.probe_bits)))
        return 0
    print(f"synthetic archives: {FRAMES_PER_ITEM} PDQ hashes per item; query = {NEAR} near copies (10-30 bits "
          f"flipped) + {UNRELATED} unrelated frames, x{ORIENTATIONS} orientations = "
          f"{(NEAR + UNRELATED) * ORIENTATIONS} hashes at radius {RADIUS}; index: SampledBitsIndex "
          f"(8 tables x 32 sampled bits, probe_bits={args.probe_bits}); machine: {os.cpu_count()} cores, shared")
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        queries = args.queries if size < 1_000_000 else max(5, args.queries // 3)
        cmd = [sys.executable, __file__, "--one", str(size), "--queries", str(queries), "--seed", str(args.seed),
               "--probe-bits", str(args.probe_bits), "--brute-hashes", str(args.brute_hashes)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{size} items: failed: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        rows.append(json.loads(proc.stdout))
        r = rows[-1]
        print(f"\n{r['items']:,} items, {r['hashes']:,} hashes ({r['hashes_mb']} MB of hashes)")
        scope = "within the phase" if r["peak_resets"] else "since the process started (peak reset refused)"
        print(f"  build {r['build_s']} s; save {r['save_s']} s ({r['file_mb']} MB folder); reopen {r['load_s']} s "
              f"(reopened index answers as the fresh one: {r['reloaded_equals_fresh']})")
        print(f"  memory (RSS, MB; peaks {scope}; hashes {r['hashes_mb']} + group ids {r['groups_mb']} resident "
              f"throughout; index arrays {r['index_mb']}):")
        print(f"    with the hashes and group ids {r['rss_data_mb']}")
        print(f"    build + save: {r['rss_built_mb']} with the built index, peak {r['rss_peak_build_mb']} while "
              f"building, {r['rss_peak_save_mb']} through saving")
        print(f"    reopen + query (built index freed first, {r['rss_dropped_mb']}): {r['rss_open_mb']} reopened, "
              f"{r['rss_queried_mb']} after the queries, peak {r['rss_peak_open_mb']}")
        print(f"    brute force (its own word-major copy of the hashes): peak {r['rss_peak_brute_mb']}")
        verdict = "met" if max(r["rss_peak_save_mb"], r["rss_peak_open_mb"]) <= 4096 else "NOT met"
        print(f"    peak of the index's phases {max(r['rss_peak_save_mb'], r['rss_peak_open_mb'])} MB: goal "
              f"<= 4096 MB {verdict}; process peak {r['rss_peak_mb']} MB (the brute force's phase included)")
        speed50 = r["brute_p50_ms"] / max(r["p50_ms"], 1e-9)
        speed99 = r["brute_p99_ms"] / max(r["p99_ms"], 1e-9)
        print(f"  query ({r['queries']} queries of 480 hashes, reopened index): p50 {r['p50_ms']} ms, "
              f"p99 {r['p99_ms']} ms; brute force p50 {r['brute_p50_ms']} ms, p99 {r['brute_p99_ms']} ms "
              f"(scaled from {r['brute_hashes_per_query']} hashes per query)")
        print(f"  ratio brute force / index: p50 {speed50:.0f}x, p99 {speed99:.0f}x; recall against brute force: "
              f"pairs {r['pair_recall']:.4f} of {r['brute_pairs']}, items {r['item_recall']:.4f}")
    if rows:
        print("\nsize        build_s  load_s  index_MB  peak_build_MB  peak_open_MB  p50_ms  p99_ms  brute_p50_ms  "
              "ratio_p50  pair_recall")
        print("(peak_build_MB: building and saving; peak_open_MB: reopening and querying; both with the hashes)")
        for r in rows:
            print(f"{r['items']:<11,} {r['build_s']:>7} {r['load_s']:>7} {r['index_mb']:>9} "
                  f"{r['rss_peak_save_mb']:>14} {r['rss_peak_open_mb']:>13} "
                  f"{r['p50_ms']:>7} {r['p99_ms']:>7} {r['brute_p50_ms']:>13} "
                  f"{r['brute_p50_ms'] / max(r['p50_ms'], 1e-9):>9.0f}x {r['pair_recall']:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
