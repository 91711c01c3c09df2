#!/usr/bin/env bash
# Learned prior (issue 17, prior engineer): OUTDIR=$1. 5.5 min wall clock of training (+~40 s start-up:
# image loading, kernel pool in 8 CPU processes): gray + colour DRUNet denoisers (bf16, channels_last,
# batch 32 x 128^2, alternating steps) for 70 % of the time, then the gray UnrolledHQS (DRUNet prior,
# DPIR schedule, 6 stages) fine-tuned on valid blur for 30 %. ~6 GB GPU memory. Weights (float16),
# cards and curve.csv are refreshed in OUTDIR every 60 s (a killed run keeps its last good weights);
# the resumable checkpoint (~80 MB) stays outside OUTDIR. OUTDIR total ~10.5 MB.
CK=$(mktemp -d /tmp/prior_ckpt.XXXXXX)
PYTHONPATH="${PYTHONPATH:-.}" python3 -m hybrid_deblur.learned.train_denoiser --device cuda --minutes 5.5 --finetune-share 0.3 --data gpu_data --out "${1:-gpu_out/prior}" --ckpt-dir "$CK"
