"""How much of the hardware the `ai` check uses, measured in one run on the same device:

- the ai check's achieved decode bandwidth (bytes its decode step reads ÷ the step's time, as the check reports it)
  ÷ a plain torch matrix-vector product over the same number of bytes (target ≥ 0.8);
- the training comparison's step time (recording the loss and every tensor's gradient norm) ÷ the same steps
  without recording (target ≤ 1.3).

    .venv/bin/python benchmarks/ai_bench.py            # a CUDA GPU if there is one, else the host CPU
    .venv/bin/python benchmarks/ai_bench.py --cpu      # force the host CPU

On a GPU: the 7B shape in FP16, batch 1, 1024 tokens of context, as many layers as fit, timed with CUDA events
(and replayed as a CUDA graph, as the check does); GPT-small training in BF16 (FP16 before Ampere). On the host CPU,
where a simulated card's clock would only time its own model, the check runs on a device that times the wall
clock: the 7B shape narrowed 4 times in FP32 (the CPU's native precision) and a small GPT.
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks.host_device import HostDevice  # noqa: E402
from testbench.checks import ai  # noqa: E402
from testbench.checks.base import CheckContext, run_check  # noqa: E402
from testbench.checks.performance import best_rate  # noqa: E402

DECODE_TARGET = 0.8
TRAINING_TARGET = 1.3


def pick_device(cpu: bool):
    if not cpu:
        from testbench.hardware.nvml import discover_nvml_devices

        devices = [d for d in discover_nvml_devices() if d.cuda_index is not None]
        if devices:
            major = int(devices[0].identity().compute_capability.split(".")[0])
            return devices[0], {"dtype": "fp16", "shape_scale": 1, "max_layers": None, "copy_mib": 1024,
                                "train_shape": ai.TRAIN_SHAPE, "train_precision": "bf16" if major >= 8 else "fp16"}
    torch.set_num_threads(1)
    return HostDevice(), {"dtype": "fp32", "shape_scale": 4, "max_layers": 4, "copy_mib": 64,
                          "train_shape": {"layers": 2, "width": 128, "heads": 4, "sequence": 64, "batch": 4,
                                          "vocab": 512}, "train_precision": "fp32"}


def plain_matvec_gbs(device, dtype_name: str, hidden: int, step_bytes: float) -> float:
    """A plain `W @ x` reading `step_bytes` of weights (one tall matrix of the layer's width), on the device's clock."""
    dtype = ai.DTYPES[dtype_name]
    element = torch.empty(0, dtype=dtype).element_size()
    rows = max(1, int(step_bytes // (hidden * element)))
    weight = torch.randn(rows, hidden, device=device.torch_device).to(dtype)
    x = torch.randn(hidden, 1, device=device.torch_device).to(dtype)
    rate = best_rate(device.replayable(lambda: torch.matmul(weight, x)), rows * hidden * element / 1e9, 5, device,
                      0.05)
    return rate


def training_ratio(device, shape: dict, precision: str, steps: int) -> tuple[float, float, float]:
    """(seconds with recording, seconds without, ratio): the best of three runs of each, one warm-up first."""
    initial = ai.gpt_parameters(shape, 0)
    batches = ai.training_batches(shape, steps, 0)

    def seconds(record: bool) -> float:
        started = time.perf_counter()
        ai.train(device, initial, batches, shape, precision, record=record)
        device.synchronize()
        return time.perf_counter() - started

    with ai.deterministic_algorithms():
        seconds(True)
        checked = min(seconds(True) for _ in range(3))
        plain = min(seconds(False) for _ in range(3))
    return checked, plain, checked / plain


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--train-steps", type=int, default=10)
    args = parser.parse_args()
    device, sizes = pick_device(args.cpu)
    identity = device.identity()

    result = run_check("ai", ai.ai_check, CheckContext(device), models=("7B",), contexts=(1024,), batches=(1,),
                       dtypes=(sizes["dtype"],), shape_scale=sizes["shape_scale"], max_layers=sizes["max_layers"],
                       copy_mib=sizes["copy_mib"], repeats=5, min_timed_s=0.05, train_steps=2,
                       train_shape=sizes["train_shape"])
    if result.status.value == "error":
        raise SystemExit(f"the ai check could not run: {result.summary}")
    row = result.metrics["decode"][0]
    shape = ai.DECODER_SHAPES["7B"].scaled(sizes["shape_scale"])
    positions = 1024 // sizes["shape_scale"] + 1
    step_bytes = row["layers_timed"] * shape.layer_step_bytes(1, positions, ai.BYTES[sizes["dtype"]])
    plain_gbs = plain_matvec_gbs(device, sizes["dtype"], shape.hidden, step_bytes)
    decode_ratio = row["bandwidth_gbs"] / plain_gbs
    checked_s, plain_s, train_ratio = training_ratio(device, sizes["train_shape"], sizes["train_precision"],
                                                     args.train_steps)
    report = {
        "device": identity.name, "torch": torch.__version__, "dtype": sizes["dtype"],
        "shape_scale": sizes["shape_scale"], "layers_timed": row["layers_timed"],
        "step_mib": round(step_bytes / 2**20, 1),
        "decode_bandwidth_gbs": row["bandwidth_gbs"], "plain_matvec_gbs": round(plain_gbs, 2),
        "decode_ratio": round(decode_ratio, 3), "decode_target": DECODE_TARGET,
        "decode_7b_tokens_per_s": row["tokens_per_s"],
        "copy_bandwidth_gbs": result.metrics["copy_bandwidth_gbs"],
        "training_shape": sizes["train_shape"], "training_precision": sizes["train_precision"],
        "training_steps": args.train_steps, "training_checked_s": round(checked_s, 3),
        "training_plain_s": round(plain_s, 3), "training_ratio": round(train_ratio, 3),
        "training_target": TRAINING_TARGET,
    }
    if not all(math.isfinite(v) for v in (decode_ratio, train_ratio)):
        raise SystemExit(f"a measurement came out non-finite: {report}")
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"device: {report['device']}  (torch {report['torch']}, {report['dtype']}, 7B shape narrowed "
          f"{report['shape_scale']}×, {report['layers_timed']} layers, {report['step_mib']} MiB read per step)")
    print(f"ai check decode {report['decode_bandwidth_gbs']:.2f} GB/s ÷ plain matvec {plain_gbs:.2f} GB/s "
          f"= {decode_ratio:.2f}  (target ≥ {DECODE_TARGET})")
    print(f"training step with recording {checked_s:.3f} s ÷ without {plain_s:.3f} s over {args.train_steps} steps "
          f"= {train_ratio:.2f}  (target ≤ {TRAINING_TARGET})")


if __name__ == "__main__":
    main()
