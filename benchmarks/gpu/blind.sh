#!/usr/bin/env bash
# Learned kernel estimator (issue 10, blind engineer): OUTDIR=$1; 6 min wall clock incl. ~20 s kernel pool
# (16 CPU processes) and image loading; ~3 GB GPU memory; checkpoints atomically every 30 s.
PYTHONPATH="${PYTHONPATH:-.}" exec python3 -m hybrid_deblur.learned.train_kernel_net --device cuda --minutes 6 --data gpu_data --out "${1:-gpu_out/blind}"
