#!/usr/bin/env bash
# One prepared GPU session: every trainer in benchmarks/gpu/<name>.sh runs concurrently on
# the one GPU (each gets OUTDIR=$1 as its first argument and a wall-clock budget), while
# benchmarks/gpu_check.sh runs the GPU tests and benchmarks. Results are packed one tar per
# trainer under OUT (the device tool returns at most 8 files of <= 16 MiB).
#
#   bash benchmarks/gpu/run_all.sh OUT [BUDGET_S]
#
# On a machine without a CUDA device it says so and exits 0.
set -u
OUT=${1:?usage: run_all.sh OUT [BUDGET_S]}
BUDGET=${2:-400}
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" PYTHONUNBUFFERED=1
mkdir -p "$OUT"
if ! python3 -c "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "no GPU: nothing to run"; exit 0
fi
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
WORK=$(mktemp -d)
start=$(date +%s)
for s in benchmarks/gpu/*.sh; do
  n=$(basename "$s" .sh)
  [ "$n" = run_all ] && continue
  mkdir -p "$WORK/$n"
  ( timeout --signal=INT --kill-after=30 "$BUDGET" bash "$s" "$WORK/$n" > "$WORK/$n/log.txt" 2>&1
    echo "exit=$? after $(( $(date +%s) - start )) s" >> "$WORK/$n/log.txt" ) &
done
if [ -f benchmarks/gpu_check.sh ]; then
  mkdir -p "$WORK/check"
  ( timeout --kill-after=20 240 bash benchmarks/gpu_check.sh "$WORK/check" > "$WORK/check/log.txt" 2>&1
    echo "exit=$?" >> "$WORK/check/log.txt" ) &
fi
( while sleep 30; do nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; done ) \
  > "$WORK/gpu_util.txt" 2>&1 &
mon=$!
wait $(jobs -p | grep -v "^$mon\$") 2>/dev/null
kill $mon 2>/dev/null
for d in "$WORK"/*/; do
  n=$(basename "$d")
  tar -C "$WORK" -cf "$OUT/$n.tar" "$n"
  echo "== $n: $(du -sh "$OUT/$n.tar" | cut -f1)"; tail -5 "$d/log.txt"
done
cp "$WORK/gpu_util.txt" "$OUT/" 2>/dev/null
echo "total $(( $(date +%s) - start )) s"
