#!/usr/bin/env python3
# FAISS side of the peer benchmark (bench/run.mjs): builds IndexHNSWFlat or IndexIVFFlat on one
# thread over the same dataset files, sweeps efSearch / nprobe, prints one JSON line on stdout.
# Usage: python3 bench/peers/faiss_bench.py <config.json> <hnsw|ivf>   (config: bench/lib/peer-worker.mjs)
import json
import math
import os
import sys
import time


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def rss_bytes():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def load(cfg, np):
    with open(os.path.join(cfg['datasetsDir'], cfg['dataset'] + '.json')) as f:
        desc = json.load(f)
    d = int(desc['d'])
    n = int(desc['n']) if cfg['limit'] is None else min(int(cfg['limit']), int(desc['n']))
    files = desc.get('files', {})
    base_path = os.path.join(cfg['datasetsDir'], files.get('base', cfg['dataset'] + '.base.f32'))
    query_path = os.path.join(cfg['datasetsDir'], files.get('query', cfg['dataset'] + '.query.f32'))
    base = np.fromfile(base_path, dtype='<f4', count=n * d).reshape(n, d)
    nq = cfg['queries']
    queries = np.fromfile(query_path, dtype='<f4', count=nq * d).reshape(nq, d)
    truth = np.fromfile(cfg['truthPath'], dtype='<i4').reshape(nq, cfg['k'])
    return np.ascontiguousarray(base), np.ascontiguousarray(queries), truth, n, d


def normalize(np, x):
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return np.ascontiguousarray((x / norms).astype('float32'))


def recall(returned, truth_row, k):
    want = set(int(t) for t in truth_row[:k] if t >= 0)
    if not want:
        return 1.0
    hit = sum(1 for r in returned[:k] if int(r) in want)
    return hit / len(want)


def percentile(sorted_ms, p):
    if not sorted_ms:
        return float('nan')
    i = min(len(sorted_ms) - 1, max(0, math.ceil(p / 100 * len(sorted_ms)) - 1))
    return sorted_ms[i]


def measure(index, queries, truth, k, min_time_s):
    """Warm-up pass scoring recall, then whole timed passes (one query per call) for >= min_time_s."""
    nq = queries.shape[0]
    total = 0.0
    for qi in range(nq):
        _, ids = index.search(queries[qi:qi + 1], k)
        total += recall(ids[0], truth[qi], k)
    lat = []
    passes = 0
    started = time.perf_counter()
    while True:
        for qi in range(nq):
            q = queries[qi:qi + 1]
            t0 = time.perf_counter()
            index.search(q, k)
            lat.append((time.perf_counter() - t0) * 1000)
        passes += 1
        if time.perf_counter() - started >= min_time_s or passes >= 10000:
            break
    wall = time.perf_counter() - started
    lat.sort()
    return {
        'recall': total / nq if nq else float('nan'),
        'qps': nq * passes / wall,
        'p50Ms': percentile(lat, 50),
        'p99Ms': percentile(lat, 99),
        'passes': passes,
        'queries': nq,
    }


def main():
    cfg_path, kind = sys.argv[1], sys.argv[2]
    with open(cfg_path) as f:
        cfg = json.load(f)
    try:
        import faiss
        import numpy as np
    except ImportError as err:
        print(json.dumps({'engine': 'faiss', 'state': 'skipped', 'reason': str(err)}))
        return
    faiss.omp_set_num_threads(1)
    base, queries, truth, n, d = load(cfg, np)
    cosine = cfg['metric'] == 'cosine'
    if cosine:
        base, queries = normalize(np, base), normalize(np, queries)
    metric = faiss.METRIC_INNER_PRODUCT if cosine else faiss.METRIC_L2
    k = cfg['k']
    notes = []
    before = rss_bytes()
    t0 = time.perf_counter()
    if kind == 'hnsw':
        label, param, params = 'faiss-hnsw', 'ef', cfg['efs']
        index = faiss.IndexHNSWFlat(d, cfg['m'], metric)
        index.hnsw.efConstruction = cfg['efConstruct']
        index.add(base)
        notes.append(f'faiss-hnsw: IndexHNSWFlat(M = {cfg["m"]}, efConstruction = {cfg["efConstruct"]})')
    else:
        nlist = max(1, round(math.sqrt(n)))
        label, param = 'faiss-ivf', 'nprobe'
        params = sorted(set(min(p, nlist) for p in cfg['nprobes']))
        quantizer = faiss.IndexFlatIP(d) if cosine else faiss.IndexFlatL2(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, metric)
        index.train(base)
        index.add(base)
        notes.append(f'faiss-ivf: IndexIVFFlat(nlist = {nlist} = round(sqrt(n))), k-means trained on the whole base; build includes training')
    build_ms = (time.perf_counter() - t0) * 1000
    after = rss_bytes()
    log(f'{label}: built in {build_ms / 1000:.1f} s')
    if cosine:
        notes.append(f'{label}: inner product over L2-normalised base and queries (normalisation not timed)')
    points = []
    for p in params:
        if kind == 'hnsw':
            index.hnsw.efSearch = p
        else:
            index.nprobe = p
        m = measure(index, queries, truth, k, cfg['minTimeS'])
        log(f'  {label} {param} {p}: recall {m["recall"]:.4f}, {round(m["qps"])} QPS')
        points.append({'param': p, **m})
    print(json.dumps({
        'engine': label,
        'state': 'ok',
        'version': faiss.__version__,
        'builds': [{
            'label': label,
            'buildMs': build_ms,
            'vectorsPerSecond': n / (build_ms / 1000),
            'rssBeforeBytes': before,
            'rssAfterBytes': after,
        }],
        'curves': [{'label': label, 'engine': 'faiss', 'param': param, 'points': points}],
        'notes': notes + [f'python {sys.version.split()[0]} ({sys.executable}), numpy {np.__version__}, omp threads 1'],
    }))


if __name__ == '__main__':
    main()
