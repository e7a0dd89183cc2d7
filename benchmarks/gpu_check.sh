#!/usr/bin/env bash
# The device check: CUDA tests and the benchmarks on a lent GPU, one call.
# Uses the machine's own python3 (with torch); danlu runs from src/ without installing.
set -uo pipefail
export PYTHONPATH="$PWD/src:$PWD" PYTHONUNBUFFERED=1
OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
python3 -c "import safetensors" 2>/dev/null || echo "safetensors missing: weight tests will fail"
python3 -m pytest -q -p no:cacheprovider tests -k "cuda or CUDA" 2>&1 | tee "$OUT/cuda_tests.log" | tail -15
python3 -m pytest -q -p no:cacheprovider -x tests 2>&1 | tee "$OUT/all_tests.log" | tail -4
python3 benchmarks/fit_overhead.py --device cuda --repeats 7 2>&1 | tee "$OUT/fit_overhead_cuda.txt"
python3 benchmarks/optimizer_step.py --device cuda --repeats 100 2>&1 | tee "$OUT/optimizer_step_cuda.txt"
python3 benchmarks/recurrent.py --device cuda 2>&1 | tee "$OUT/recurrent_cuda.txt"
# fit against a hand-written compiled bf16 loop (budget <= 1.05x)
python3 benchmarks/gpu_resnet.py --repeats 3 2>&1 | tee "$OUT/gpu_resnet.txt"
python3 benchmarks/gpu_gpt.py --repeats 3 2>&1 | tee "$OUT/gpu_gpt.txt"
