#!/usr/bin/env bash
# The project's checks on every CUDA GPU of this machine, with a JSON report:
#   1. the GPU suite (tests/gpu): NVML identity and telemetry, the VRAM and compute checks on the real card, and the
#      same checks finding faults planted in its real memory and GEMM output;
#   2. the quick plan, healthy, on every card (python -m testbench.runner);
#   3. benchmarks/checks_bench.py: the checks' share of the card's copy bandwidth and matmul rate;
#   4. benchmarks/ai_bench.py: the ai check's decode bandwidth against a plain matrix-vector product, and its
#      training comparison's cost (the quick plan of step 2 runs the ai check itself: decode, training, context).
#
#   scripts/gpu_check.sh [OUT_DIR]      (default: $OUT if set, else ./var/gpu_check)
#
# Needs an NVIDIA driver and a Python with torch (CUDA build), nvidia-ml-py and pytest; Django is not needed.
# PYTHON picks it (default .venv/bin/python, else python3). Each step has a time limit (STEP_LIMITS, seconds).
# Writes environment.json, gpu_tests.xml (JUnit, measured figures as properties), gpu_tests.log, gpu_check.json
# (the runner's report), gpu_check.log, checks_bench.json, ai_bench.json and report.json (what each step gave).
# Exit status: 0 every step passed, 1 a step failed, 2 no GPU found.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-var/gpu_check}}"
mkdir -p "$out"
python="${PYTHON:-.venv/bin/python}"
[ -x "$python" ] || python=python3
read -r suite_limit plan_limit bench_limit ai_limit <<< "${STEP_LIMITS:-180 300 90 150}"
export PYTHONUNBUFFERED=1

"$python" - "$out/environment.json" <<'PY'
import json, platform, subprocess, sys
import torch
try:
    smi = subprocess.run(["nvidia-smi", "--query-gpu=index,name,uuid,pci.bus_id,pci.device_id,driver_version,"
                          "vbios_version,memory.total,power.limit,power.default_limit,pcie.link.gen.max,"
                          "pcie.link.width.max,clocks.max.sm,clocks.max.mem", "--format=csv"],
                         capture_output=True, text=True)
    smi_lines = (smi.stdout or smi.stderr).strip().splitlines()
except OSError as exc:
    smi_lines = [f"nvidia-smi: {exc}"]
json.dump({"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
           "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
           "nvidia_smi": smi_lines}, open(sys.argv[1], "w"), indent=2)
PY
if ! "$python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "no CUDA GPU here (torch sees none)" >&2
  exit 2
fi

step() {  # step NAME LIMIT COMMAND...: run it under a time limit, note its exit status and duration
  local name=$1 limit=$2 started status
  shift 2
  started=$(date +%s)
  echo "== $name (limit ${limit}s)" >&2
  timeout "$limit" "$@"
  status=$?
  echo "$name $status $(( $(date +%s) - started ))" >> "$out/steps.txt"
  echo "== $name: exit $status" >&2
}
: > "$out/steps.txt"
step gpu_suite "$suite_limit" "$python" -m pytest -c tests/gpu/pytest.ini tests/gpu -v \
  --junitxml="$out/gpu_tests.xml" > "$out/gpu_tests.log" 2>&1
step quick_plan "$plan_limit" "$python" -m testbench.runner --plan quick ${REFURB_GPU_MODEL:+--model "$REFURB_GPU_MODEL"} \
  --json "$out/gpu_check.json" 2> "$out/gpu_check.log"
step checks_bench "$bench_limit" "$python" benchmarks/checks_bench.py --json > "$out/checks_bench.json" \
  2>> "$out/gpu_check.log"
step ai_bench "$ai_limit" "$python" benchmarks/ai_bench.py --json > "$out/ai_bench.json" 2>> "$out/gpu_check.log"

"$python" - "$out" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
steps = {}
for line in (out / "steps.txt").read_text().splitlines():
    name, status, seconds = line.split()
    steps[name] = {"exit": int(status), "seconds": int(seconds)}
report = {"steps": steps, "passed": all(s["exit"] == 0 for s in steps.values())}
for name in ("environment.json", "gpu_check.json", "checks_bench.json", "ai_bench.json"):
    try:
        report[name.removesuffix(".json")] = json.loads((out / name).read_text())
    except (OSError, ValueError) as exc:
        report[name.removesuffix(".json")] = {"unreadable": str(exc)}
(out / "report.json").write_text(json.dumps(report, indent=2))
print(json.dumps(steps))
sys.exit(0 if report["passed"] else 1)
PY
status=$?
rm -f "$out/steps.txt"
echo "report: $out/report.json (exit $status)"
exit $status
