#!/usr/bin/env bash
# Installs the optional peer engines of the benchmarks: hnswlib-node (compiled by node-gyp against the
# local Node headers), usearch (prebuilt binaries) and @orama/orama into bench/peers and, when
# running as root, FAISS for Python via apt (python3-faiss).
# Usage: npm run bench:setup   (or: bash bench/setup.sh). Safe to run again.
# BENCH_SETUP_SKIP_FAISS=1 skips the FAISS step.
set -u
cd "$(dirname "$0")/.."

status=0
echo "bench:setup: installing hnswlib-node, usearch, @orama/orama into bench/peers (hnswlib-node: node-gyp build, needs a C++ toolchain)"
if npm install --prefix bench/peers --no-audit --no-fund; then
  if node -e "require(require('path').resolve('bench/peers/node_modules/hnswlib-node'))"; then
    echo "bench:setup: hnswlib-node OK"
  else
    echo "bench:setup: hnswlib-node installed but does not load" >&2
    status=1
  fi
else
  echo "bench:setup: npm install of hnswlib-node failed (needs python3, make and a C++ compiler for node-gyp)" >&2
  status=1
fi
for peer in usearch @orama/orama; do
  if node --input-type=module -e "import { createRequire } from 'node:module'; import { pathToFileURL } from 'node:url'; await import(pathToFileURL(createRequire(pathToFileURL('bench/peers/package.json')).resolve('$peer')).href)"; then
    echo "bench:setup: $peer OK"
  else
    echo "bench:setup: $peer does not load (optional; npm run bench reports it as skipped)" >&2
  fi
done

if [ "${BENCH_SETUP_SKIP_FAISS:-}" = "1" ]; then
  echo "bench:setup: skipping FAISS (BENCH_SETUP_SKIP_FAISS=1)"
elif python3 -c 'import faiss' 2>/dev/null || /usr/bin/python3 -c 'import faiss' 2>/dev/null; then
  echo "bench:setup: python3 faiss already available"
elif [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "bench:setup: installing python3-faiss with apt-get (optional)"
  if apt-get install -y python3-faiss || (apt-get update && apt-get install -y python3-faiss); then
    /usr/bin/python3 -c 'import faiss' && echo "bench:setup: python3 faiss OK (/usr/bin/python3; npm run bench finds it there, or set BENCH_PYTHON)"
  else
    echo "bench:setup: python3-faiss not installed (optional; npm run bench reports faiss as skipped)" >&2
  fi
else
  echo "bench:setup: skipping FAISS (optional; needs root and apt-get: apt-get install -y python3-faiss)"
fi

exit "$status"
