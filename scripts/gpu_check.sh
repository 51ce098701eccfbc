#!/usr/bin/env bash
# Run the quick plan on every CUDA GPU of this machine and write a JSON report.
#   scripts/gpu_check.sh [OUT_DIR]      (default: $OUT if set, else ./var)
# Needs an NVIDIA driver, the project's .venv (make install) and torch with CUDA. Exit status: 0 every card passed
# (warnings included), 1 a card failed or errored, 2 no GPU found.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-var}}"
mkdir -p "$out"
python="${PYTHON:-.venv/bin/python}"
nvidia-smi --query-gpu=index,name,uuid,pci.bus_id,driver_version,vbios_version,power.limit,power.default_limit \
  --format=csv > "$out/nvidia-smi.csv" 2>&1 || true
"$python" - > "$out/environment.json" <<'PY'
import json, torch
print(json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda,
                  "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]}, indent=2))
PY
"$python" -m testbench.runner --plan quick --json "$out/gpu_check.json" 2> "$out/gpu_check.log"
status=$?
"$python" benchmarks/checks_bench.py --json > "$out/checks_bench.json" 2>> "$out/gpu_check.log" || true
echo "report: $out/gpu_check.json (exit $status)"
exit $status
