#!/usr/bin/env bash
# Times deepscope and PyTorch on the same machine, one after the other, with
# the same thread count, and prints the ratios. The model is the MedMNIST
# ResNet-18 at batch 128, as in ../shared/reference/torch_pbc.py.
# usage: scripts/bench_vs_torch.sh [THREADS] [SIZES]   (defaults: all cores, 28,64)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
sizes=${2:-28,64}
ref=../shared/reference/torch_pbc.py
[ -f "$ref" ] || { echo "bench: $ref not found" >&2; exit 1; }
go build -o /tmp/deepscope-bench ./cmd/deepscope
out=$(mktemp -d)
/tmp/deepscope-bench bench --threads "$threads" --sizes "$sizes" --what peak,gemm,train,infer --iters 5 | tee "$out/ds.jsonl"
THREADS=$threads SIZES=$sizes ITERS=5 /usr/bin/python3 -c "
import os, sys, json, resource, runpy
sys.argv = ['torch_pbc.py', '../shared/data/pbc', 'speed']
runpy.run_path('$ref', run_name='__main__')
print(json.dumps({'what': 'torch_peak_rss_mib', 'value': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
" | tee "$out/torch.jsonl"
/usr/bin/python3 - "$out/ds.jsonl" "$out/torch.jsonl" <<'PY'
import json, sys
ds = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
th = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
print("\nphase  size  deepscope img/s  pytorch img/s  ratio")
for d in ds:
    if d["what"] not in ("train", "infer"):
        continue
    for t in th:
        if t.get("dev") == "cpu" and t.get("size") == d["size"] and t.get("phase") == d["what"]:
            print(f'{d["what"]:6} {d["size"]:4} {d["img_per_s"]:16.1f} {t["img_per_s"]:14.1f} {d["img_per_s"]/t["img_per_s"]:6.2f}')
peak = [d for d in ds if d["what"] == "peak"]
rss = [d.get("peak_rss_mib", 0) for d in ds]
trss = [t["value"] for t in th if t.get("what") == "torch_peak_rss_mib"]
if peak: print(f'FMA peak {peak[0]["gflops"]:.0f} GFLOP/s; GEMM fractions: ' + ", ".join(f'{d["peak_fraction"]:.2f}' for d in ds if d["what"] == "gemm"))
if rss and trss: print(f"peak RSS: deepscope {max(rss):.0f} MiB, pytorch {trss[0]:.0f} MiB (whole process, all sizes)")
PY
