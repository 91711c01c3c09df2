#!/usr/bin/env bash
# End-to-end zoo (issue 12, zoo engineer): OUTDIR=$1. 6 min wall clock in all (start-up included:
# image loading + a 1024-kernel pool per process): 8 small models, one process each, concurrently
# (bf16 autocast, channels_last, 128^2 crops, batch 8-32, each capped at 2.5 GiB; ~14 GB together).
# Per model OUTDIR/<name>/: <name>.pt (EMA, float16, refreshed atomically every 60 s), <name>.json
# (model card, sha256), curve.csv; OUTDIR/<name>.log. OUTDIR total ~9.5 MB. Checkpoints in /tmp.
PYTHONPATH="${PYTHONPATH:-.}" exec python3 -m hybrid_deblur.learned.e2e.train --device cuda --minutes 6 --data gpu_data --out "${1:-gpu_out/zoo}" --gpu-mem 2.5 --margin 25
