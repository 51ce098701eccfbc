"""AI workload: what a buyer running language models asks of a card, measured on it with real transformer kernels.

Models are built here from their shapes with seeded random weights; nothing is downloaded.

- **Decode**: decoder layers shaped like a 7B and a 13B model (RMSNorm, rotary attention over a KV cache, a SwiGLU
  MLP), one new token per sequence, timed on the device's own clock through as many layers as fit (at least one) and
  replayed as a CUDA graph where the device can, so that launch overhead does not count. Tokens/s for the whole
  model = batch ÷ (layers × per-layer time + the output head's time); the achieved bandwidth (bytes read per step ÷
  time) is given as a share of the card's copy bandwidth measured here. INT8 and INT4 figures are extrapolated from
  the measured FP16 efficiency and say so.
- **Training**: a small GPT trained for a fixed number of seeded AdamW steps in FP32 (the reference), then under
  autocast in FP16 (with a grad scaler) and BF16, each twice with deterministic algorithms. The loss and every
  tensor's gradient norm must follow the FP32 run within `AI_LOSS_TOLERANCE` / `AI_GRAD_NORM_TOLERANCE`, stay
  finite, and the two runs of a precision must agree: a card with silent data corruption parts from the reference,
  and the evidence names the step and tensor where it does.
- **Largest context**: the longest KV cache a 7B model has room for beside its weights, from the memory this check
  could actually allocate (not the datasheet's size), at FP16 and (extrapolated) INT8.

On a simulated card the shapes are narrowed by `shape_scale` (heads keep their count, each is narrower; contexts
shrink alike) and times are scaled back up by the bytes each step reads, since decode is bound by memory.
"""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .base import CheckCannotStart, CheckContext, CheckResult
from .compute import DTYPES
from .findings import Findings
from .limits import AI_GRAD_NORM_TOLERANCE, AI_LOSS_TOLERANCE, AI_REPEAT_TOLERANCE, source
from .performance import MIN_TIMED_S, best_rate, copy_bandwidth_gbs

BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "int4": 0.5625}  # int4: 4 bits and a scale per group of 64
RUNTIME_RESERVE_BYTES = 512 * 2**20  # what a runtime keeps beside weights and cache (context, activations)
GRAD_FLOOR = 0.01  # a tensor's gradient norm is compared relative to at least this share of the step's total norm
MAX_FINDINGS_DETAIL = 8


@dataclass(frozen=True)
class DecoderShape:
    name: str
    hidden: int
    heads: int
    mlp: int
    layers: int
    vocab: int = 32000

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def scaled(self, scale: int) -> DecoderShape:
        """Narrower by `scale`: the same number of heads and layers, each head and the MLP `scale` times smaller."""
        return DecoderShape(self.name, self.hidden // scale, self.heads, self.mlp // scale, self.layers,
                            self.vocab // scale)

    @property
    def layer_parameters(self) -> int:
        return 4 * self.hidden * self.hidden + 3 * self.hidden * self.mlp + 2 * self.hidden

    @property
    def parameters(self) -> int:
        return self.layers * self.layer_parameters + 2 * self.vocab * self.hidden + self.hidden

    def kv_bytes_per_token(self, element_bytes: float) -> float:
        return 2 * self.layers * self.hidden * element_bytes

    def layer_step_bytes(self, batch: int, context: int, element_bytes: float) -> float:
        """What one layer reads per decode step: its weights once, and each sequence's K and V cache."""
        return self.layer_parameters * element_bytes + batch * context * 2 * self.hidden * element_bytes


DECODER_SHAPES = {
    "7B": DecoderShape("7B", hidden=4096, heads=32, mlp=11008, layers=32),
    "13B": DecoderShape("13B", hidden=5120, heads=40, mlp=13824, layers=40),
}
LARGEST_CONTEXT_MODEL = "7B"
# A GPT-2-small-like model: 12 layers of width 768 over sequences of 512 tokens.
TRAIN_SHAPE = {"layers": 12, "width": 768, "heads": 12, "sequence": 512, "batch": 8, "vocab": 8192}


# --- device memory ---------------------------------------------------------------------------------------------
def _carve(device, dtype: torch.dtype, shapes: list[tuple[int, ...]]):
    """One device allocation holding tensors of `shapes` (each aligned to 64 elements), so that the device's own
    memory accounting sees them and a MemoryError says they do not fit."""
    sizes = [math.prod(s) for s in shapes]
    offsets, total = [], 0
    for size in sizes:
        offsets.append(total)
        total += -(-size // 64) * 64
    element = torch.empty(0, dtype=dtype).element_size()
    buffer = device.alloc_words(-(-total * element // 4))
    flat = buffer.tensor.view(dtype)
    return buffer, [flat[o:o + n].view(s) for o, n, s in zip(offsets, sizes, shapes, strict=True)]


def allocatable_bytes(device) -> int:
    """How much device memory can really be allocated now: taken in pieces until the device refuses, then freed."""
    free, _ = device.memory_info()
    piece = max(2**20, free // 64) // 4 * 4
    buffers, total = [], 0
    try:
        while piece >= 2**20:
            try:
                buffers.append(device.alloc_words(piece // 4))
                total += piece
            except MemoryError:
                piece //= 2
    finally:
        for buffer in buffers:
            device.free(buffer)
    return total


# --- decode --------------------------------------------------------------------------------------------------
class DecoderLayer:
    """One decoder layer's weights in device memory and, while a measurement runs, its KV cache."""

    def __init__(self, device, shape: DecoderShape, dtype: torch.dtype, generator: torch.Generator):
        h, m = shape.hidden, shape.mlp
        self.device = device
        self.buffer, (self.qkv, self.out, self.gate_up, self.down, self.norm1, self.norm2) = _carve(
            device, dtype, [(h, 3 * h), (h, h), (h, 2 * m), (m, h), (h,), (h,)])
        for weight in (self.qkv, self.out, self.gate_up, self.down):
            weight.normal_(0.0, 0.02, generator=generator)
        self.norm1.fill_(1.0)
        self.norm2.fill_(1.0)
        self.cache_buffer = None
        self.keys = self.values = None

    def give_cache(self, batch: int, positions: int, shape: DecoderShape, dtype, generator) -> None:
        cache = (batch, shape.heads, positions, shape.head_dim)
        self.cache_buffer, (self.keys, self.values) = _carve(self.device, dtype, [cache, cache])
        self.keys.normal_(generator=generator)
        self.values.normal_(generator=generator)

    def drop_cache(self) -> None:
        if self.cache_buffer is not None:
            self.keys = self.values = None
            self.device.free(self.cache_buffer)
            self.cache_buffer = None

    def free(self) -> None:
        self.drop_cache()
        self.qkv = self.out = self.gate_up = self.down = self.norm1 = self.norm2 = None
        self.device.free(self.buffer)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding of (…, head_dim) at one position (cos and sin of half the head's width)."""
    first, second = x.chunk(2, dim=-1)
    return torch.cat((first * cos - second * sin, first * sin + second * cos), dim=-1)


def decode_step(device, layers: list[DecoderLayer], x: torch.Tensor, shape: DecoderShape, cos, sin) -> torch.Tensor:
    """One new token for each of the batch's sequences through `layers`; the token's K and V go into the cache's
    last position, and attention reads the whole cache. Every product goes through the device."""
    batch, hidden, heads, head_dim = x.shape[0], shape.hidden, shape.heads, shape.head_dim
    scale = head_dim ** -0.5
    for layer in layers:
        h = F.rms_norm(x, (hidden,), layer.norm1, 1e-5)
        q, k, v = device.matmul(h, layer.qkv).view(batch, 3, heads, head_dim).unbind(1)
        q, k = _rotate(q, cos, sin), _rotate(k, cos, sin)
        layer.keys[:, :, -1] = k
        layer.values[:, :, -1] = v
        scores = device.matmul(q.unsqueeze(2), layer.keys.transpose(-1, -2))  # (batch, heads, 1, positions)
        weights = torch.softmax(scores.float() * scale, dim=-1).to(x.dtype)
        attended = device.matmul(weights, layer.values).reshape(batch, hidden)
        x = x + device.matmul(attended, layer.out)
        h = F.rms_norm(x, (hidden,), layer.norm2, 1e-5)
        gate, up = device.matmul(h, layer.gate_up).chunk(2, dim=-1)
        x = x + device.matmul(F.silu(gate) * up, layer.down)
    return x


def _step_seconds(device, work, repeats: int, min_timed_s: float) -> float:
    """The device seconds of one run of `work` (replayed as the device can), best of `repeats` runs."""
    run = device.replayable(work)
    rate = best_rate(run, 1.0, repeats, device, min_timed_s)
    return 1.0 / rate if rate else math.inf


@dataclass
class DecodeMeasurement:
    model: str
    dtype: str
    batch: int
    context: int
    layers_timed: int = 0
    tokens_per_s: float | None = None
    bandwidth_gbs: float | None = None
    bandwidth_share: float | None = None
    fits: bool = False  # the whole model, this context's cache and the runtime's reserve fit in the card
    note: str = ""

    def as_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def measure_decode(ctx: CheckContext, *, shape: DecoderShape, run_shape: DecoderShape, dtype_name: str,
                   batches, contexts, shape_scale: int, card_bytes: float, copy_gbs: float, repeats: int,
                   min_timed_s: float, max_layers: int | None, seed: int, progress) -> list[DecodeMeasurement]:
    """Every (batch, context) for one model and dtype: the layers' weights once, a cache per measurement."""
    device = ctx.device
    dtype = DTYPES[dtype_name]
    element = BYTES[dtype_name]
    generator = torch.Generator(device=device.torch_device).manual_seed(seed)
    results = [DecodeMeasurement(shape.name, dtype_name, b, c) for b in batches for c in contexts]
    for result in results:
        result.fits = (shape.parameters * element + shape.kv_bytes_per_token(element) * result.batch * result.context
                       + RUNTIME_RESERVE_BYTES) <= card_bytes
    free, _ = device.memory_info()
    wanted = max(1, min(run_shape.layers, max_layers or run_shape.layers,
                        int(free * 0.5 // (run_shape.layer_parameters * element))))
    layers: list[DecoderLayer] = []
    head_buffer = None
    try:
        head_buffer, (head,) = _carve(device, dtype, [(run_shape.hidden, run_shape.vocab)])
        head.normal_(0.0, 0.02, generator=generator)
        for _ in range(wanted):
            try:
                layers.append(DecoderLayer(device, run_shape, dtype, generator))
            except MemoryError:
                break
        if not layers:
            for result in results:
                result.note = "not one layer fits in the card's free memory"
            return results
        half = run_shape.head_dim // 2
        for result in results:
            progress(f"decode {shape.name} {dtype_name} batch {result.batch}, {result.context} tokens")
            positions = max(2, result.context // shape_scale) + 1  # the cache so far and the new token
            cache_bytes = 2 * result.batch * positions * run_shape.hidden * element
            room = device.memory_info()[0] - 4 * result.batch * (run_shape.hidden + run_shape.mlp) * element * 8
            timed = layers[:max(0, int(room // max(cache_bytes, 1)))]
            try:
                for layer in timed:
                    layer.give_cache(result.batch, positions, run_shape, dtype, generator)
            except MemoryError:
                timed = [layer for layer in timed if layer.keys is not None]
            if not timed:
                result.note = "the KV cache of one layer does not fit beside the weights"
                continue
            angle = (positions - 1) / (10000 ** (torch.arange(0, half, device=device.torch_device) * 2 / (2 * half)))
            cos, sin = angle.cos().to(dtype), angle.sin().to(dtype)
            x = torch.randn(result.batch, run_shape.hidden, generator=generator, device=device.torch_device,
                            dtype=torch.float32).to(dtype)
            seconds = _step_seconds(
                device, lambda timed=timed, x=x, cos=cos, sin=sin: decode_step(device, timed, x, run_shape, cos, sin),
                repeats, min_timed_s)
            head_seconds = _step_seconds(device, lambda x=x: device.matmul(x, head), repeats, min_timed_s)
            for layer in timed:
                layer.drop_cache()
            run_bytes = len(timed) * run_shape.layer_step_bytes(result.batch, positions, element)
            # Scaled back to the full shape by what a step reads (decode is bound by memory): 1 on a real card.
            layer_factor = shape.layer_step_bytes(result.batch, result.context + 1, element) / \
                run_shape.layer_step_bytes(result.batch, positions, element)
            head_factor = (shape.vocab * shape.hidden) / (run_shape.vocab * run_shape.hidden)
            model_seconds = shape.layers * seconds / len(timed) * layer_factor + head_seconds * head_factor
            result.layers_timed = len(timed)
            result.tokens_per_s = result.batch / model_seconds
            result.bandwidth_gbs = run_bytes / seconds / 1e9
            result.bandwidth_share = result.bandwidth_gbs / copy_gbs if copy_gbs else None
    finally:
        for layer in layers:
            layer.free()
        if head_buffer is not None:
            head = None
            device.free(head_buffer)
    return results


def extrapolated_decode(shape: DecoderShape, measured: DecodeMeasurement, copy_gbs: float, card_bytes: float,
                        precision: str) -> dict:
    """INT8/INT4 decode rate from the measured FP16 efficiency: the same share of copy bandwidth over the bytes a
    quantised model reads (weights at `precision`, cache in FP16). Marked as extrapolated, never as measured."""
    weights = shape.parameters * BYTES[precision]
    cache = shape.kv_bytes_per_token(BYTES["fp16"]) * measured.context * measured.batch
    fits = weights + cache + RUNTIME_RESERVE_BYTES <= card_bytes
    rate = None
    if measured.bandwidth_share and copy_gbs:
        rate = measured.batch * measured.bandwidth_share * copy_gbs * 1e9 / (weights + cache)
    return {"model": shape.name, "precision": precision, "batch": measured.batch, "context": measured.context,
            "tokens_per_s": round(rate, 2) if rate else None, "fits": fits, "extrapolated": True,
            "from": f"{measured.dtype} at {measured.bandwidth_share:.0%} of copy bandwidth"
            if measured.bandwidth_share else None}


def largest_context(shape: DecoderShape, card_bytes: float) -> dict:
    """The longest KV cache (tokens, one sequence) that fits beside the weights: FP16 measured, INT8 extrapolated."""
    out = {}
    for precision in ("fp16", "int8"):
        room = card_bytes - shape.parameters * BYTES[precision] - RUNTIME_RESERVE_BYTES
        out[f"{shape.name}_{precision}"] = max(0, int(room // shape.kv_bytes_per_token(BYTES[precision])))
    return out


# --- training ------------------------------------------------------------------------------------------------
def gpt_parameters(shape: dict, seed: int) -> dict[str, torch.Tensor]:
    """A GPT's parameters, seeded, on the CPU in FP32: every run starts from a copy of these."""
    generator = torch.Generator().manual_seed(seed)
    c, v = shape["width"], shape["vocab"]

    def normal(*size):
        return torch.randn(*size, generator=generator) * 0.02

    params = {"embed": normal(v, c), "position": normal(shape["sequence"], c)}
    for i in range(shape["layers"]):
        params |= {f"blocks.{i}.ln1.weight": torch.ones(c), f"blocks.{i}.ln1.bias": torch.zeros(c),
                   f"blocks.{i}.attn.qkv": normal(c, 3 * c), f"blocks.{i}.attn.proj": normal(c, c),
                   f"blocks.{i}.ln2.weight": torch.ones(c), f"blocks.{i}.ln2.bias": torch.zeros(c),
                   f"blocks.{i}.mlp.fc": normal(c, 4 * c), f"blocks.{i}.mlp.proj": normal(4 * c, c)}
    return params | {"ln_f.weight": torch.ones(c), "ln_f.bias": torch.zeros(c), "head": normal(c, v)}


def training_batches(shape: dict, steps: int, seed: int) -> torch.Tensor:
    """(steps, batch, sequence + 1) tokens a model can learn: each token mostly follows from the one before it
    through a fixed seeded permutation, so that the loss falls as the model trains."""
    generator = torch.Generator().manual_seed(seed + 1)
    vocab, rows, length = shape["vocab"], steps * shape["batch"], shape["sequence"] + 1
    follow = torch.randperm(vocab, generator=generator)
    tokens = torch.empty(rows, length, dtype=torch.long)
    tokens[:, 0] = torch.randint(vocab, (rows,), generator=generator)
    for t in range(1, length):
        noise = torch.rand(rows, generator=generator) < 0.1
        tokens[:, t] = torch.where(noise, torch.randint(vocab, (rows,), generator=generator), follow[tokens[:, t - 1]])
    return tokens.view(steps, shape["batch"], length)


def gpt_loss(device, params: dict[str, torch.Tensor], tokens: torch.Tensor, shape: dict) -> torch.Tensor:
    """Next-token cross-entropy of a pre-norm GPT; every product goes through the device."""
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    batch, length = inputs.shape
    c, heads = shape["width"], shape["heads"]
    x = params["embed"][inputs] + params["position"][:length]
    causal = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
    for i in range(shape["layers"]):
        p = f"blocks.{i}."
        h = F.layer_norm(x, (c,), params[p + "ln1.weight"], params[p + "ln1.bias"])
        q, k, v = device.matmul(h, params[p + "attn.qkv"]).view(batch, length, 3, heads, c // heads) \
            .permute(2, 0, 3, 1, 4).unbind(0)
        scores = device.matmul(q, k.transpose(-1, -2)).float() * (c // heads) ** -0.5
        weights = torch.softmax(scores.masked_fill(causal, -math.inf), dim=-1).to(v.dtype)
        attended = device.matmul(weights, v).transpose(1, 2).reshape(batch, length, c)
        x = x + device.matmul(attended, params[p + "attn.proj"])
        h = F.layer_norm(x, (c,), params[p + "ln2.weight"], params[p + "ln2.bias"])
        x = x + device.matmul(F.gelu(device.matmul(h, params[p + "mlp.fc"])), params[p + "mlp.proj"])
    x = F.layer_norm(x, (c,), params["ln_f.weight"], params["ln_f.bias"])
    logits = device.matmul(x, params["head"]).float()
    return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))


@contextmanager
def deterministic_algorithms():
    """Torch's deterministic algorithms for the duration; what it warns about (an op without a deterministic
    version) is collected rather than printed, and the previous setting comes back afterwards."""
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield caught
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)


def train(device, initial: dict[str, torch.Tensor], batches: torch.Tensor, shape: dict, precision: str,
          learning_rate: float = 1e-3, record: bool = True):
    """The same seeded AdamW steps from `initial`: (losses (steps,), gradient norms (steps, tensors)) on the host,
    read once at the end so that recording costs no sync per step; None, None when `record` is off."""
    where = device.torch_device
    params = {name: value.to(where).clone().requires_grad_() for name, value in initial.items()}
    optimizer = torch.optim.AdamW(params.values(), lr=learning_rate, weight_decay=0.01)
    # A fixed, moderate scale that is never raised: a healthy run of these steps skips none.
    scaler = torch.amp.GradScaler(where.type, init_scale=2.0**10, growth_interval=10**9) \
        if precision == "fp16" else None
    losses, norms = [], []
    for tokens in batches:
        with torch.autocast(where.type, dtype=DTYPES.get(precision, torch.float32), enabled=precision != "fp32"):
            loss = gpt_loss(device, params, tokens.to(where), shape)
        if scaler:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        if record:
            losses.append(loss.detach().float())
            norms.append(torch.stack([p.grad.norm() for p in params.values()]))
        if scaler:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    if not record:
        return None, None
    return torch.stack(losses).cpu(), torch.stack(norms).cpu()


def first_nonfinite(losses: torch.Tensor, norms: torch.Tensor, names: list[str]) -> dict | None:
    for step in range(len(losses)):
        if not math.isfinite(float(losses[step])):
            return {"step": step, "tensor": "loss", "value": str(float(losses[step]))}
        bad = (~torch.isfinite(norms[step])).nonzero().flatten()
        if bad.numel():
            return {"step": step, "tensor": names[int(bad[0])], "value": str(float(norms[step][bad[0]]))}
    return None


def parting(reference, run, names: list[str], loss_tolerance: float, grad_tolerance: float) -> tuple[dict | None,
                                                                                                     float, float]:
    """(where `run` first parts from `reference` beyond the tolerances, or None; largest relative loss difference;
    largest relative gradient-norm difference). Gradient norms are relative to the reference's, but to no less than
    GRAD_FLOOR of the step's total norm, so that a near-zero gradient's noise does not count."""
    ref_losses, ref_norms = reference
    losses, norms = run
    loss_diff = ((losses - ref_losses).abs() / ref_losses.abs().clamp(min=1e-12))
    floor = ref_norms.norm(dim=1, keepdim=True) * GRAD_FLOOR
    grad_diff = (norms - ref_norms).abs() / torch.maximum(ref_norms, floor).clamp(min=1e-12)
    where = None
    for step in range(len(losses)):
        if not float(loss_diff[step]) <= loss_tolerance:  # NaN parts too
            where = {"step": step, "tensor": "loss", "reference": float(ref_losses[step]),
                     "measured": float(losses[step]), "relative": float(loss_diff[step])}
            break
        beyond = (~(grad_diff[step] <= grad_tolerance)).nonzero().flatten()  # NaN parts too
        if beyond.numel():
            worst = int(beyond[0])
            where = {"step": step, "tensor": names[worst], "reference": float(ref_norms[step][worst]),
                     "measured": float(norms[step][worst]), "relative": float(grad_diff[step][worst])}
            break
    return where, float(loss_diff.max()), float(grad_diff.max())


def check_training(ctx: CheckContext, precisions: list[str], shape: dict, steps: int, seed: int, found: Findings,
                   progress) -> tuple[dict, dict]:
    device = ctx.device
    initial = gpt_parameters(shape, seed)
    names = list(initial)
    batches = training_batches(shape, steps, seed)
    runs: dict[str, list] = {}
    torch.backends.cuda.matmul.allow_tf32 = False  # the FP32 reference is FP32
    with deterministic_algorithms() as caught:
        for precision in ["fp32", *precisions]:
            runs[precision] = []
            for attempt in (1, 2):
                progress(f"training {precision}, run {attempt}")
                runs[precision].append(train(device, initial, batches, shape, precision))
    metrics: dict = {"steps": steps, "precisions": ["fp32", *precisions], "shape": shape,
                     "loss_first": round(float(runs["fp32"][0][0][0]), 4),
                     "loss_last": round(float(runs["fp32"][0][0][-1]), 4),
                     "tolerance": {"loss": {p: AI_LOSS_TOLERANCE[p] for p in precisions},
                                   "grad_norm": {p: AI_GRAD_NORM_TOLERANCE[p] for p in precisions},
                                   "repeat": AI_REPEAT_TOLERANCE},
                     "nondeterministic_ops": sorted({str(w.message).split(" ")[0] for w in caught})[:10]}
    evidence: dict = {"loss_curves": {p: [round(float(v), 5) for v in runs[p][0][0]] for p in runs}}
    nonfinite = {}
    for precision, attempts in runs.items():  # every run: corruption may strike the repeat only
        where = next((w for w in (first_nonfinite(*run, names) for run in attempts) if w), None)
        if where:
            nonfinite[precision] = where
    if nonfinite:
        precision, where = next(iter(nonfinite.items()))
        found.fail("ai.nonfinite", f"training in {precision} went to {where['value']} at step {where['step']} "
                   f"({where['tensor']})", measured={"precision": precision, **where}, threshold="finite")
        evidence["nonfinite"] = nonfinite
    diverged = {}
    for precision in precisions:
        if precision in nonfinite or "fp32" in nonfinite:
            continue
        where, loss_max, grad_max = parting(runs["fp32"][0], runs[precision][0], names,
                                            AI_LOSS_TOLERANCE[precision], AI_GRAD_NORM_TOLERANCE[precision])
        metrics[f"{precision}_loss_max_rel_diff"] = float(f"{loss_max:.3g}")
        metrics[f"{precision}_grad_norm_max_rel_diff"] = float(f"{grad_max:.3g}")
        if where:
            diverged[precision] = where
    if diverged:
        precision, where = next(iter(diverged.items()))
        found.fail("ai.training_divergence", f"{precision} training parts from FP32 at step {where['step']} "
                   f"({where['tensor']}: {where['measured']:.4g} against {where['reference']:.4g})",
                   measured={"precision": precision, **where},
                   threshold={"loss": AI_LOSS_TOLERANCE[precision], "grad_norm": AI_GRAD_NORM_TOLERANCE[precision]},
                   source=source("AI_LOSS_TOLERANCE"))
        evidence["divergence"] = diverged
    repeats = {}
    for precision, (first, second) in runs.items():
        if precision in nonfinite:
            continue
        where, _, _ = parting(first, second, names, AI_REPEAT_TOLERANCE, AI_REPEAT_TOLERANCE)
        metrics[f"{precision}_repeat_identical"] = where is None
        if where:
            repeats[precision] = where
    if repeats:
        precision, where = next(iter(repeats.items()))
        found.fail("ai.nondeterministic", f"two {precision} training runs of the same steps disagree from step "
                   f"{where['step']} ({where['tensor']})", measured={"precision": precision, **where},
                   threshold=AI_REPEAT_TOLERANCE, source=source("AI_REPEAT_TOLERANCE"))
        evidence["repeat_disagreement"] = repeats
    return metrics, evidence


# --- the check -----------------------------------------------------------------------------------------------
def ai_check(ctx: CheckContext, *, models=("7B", "13B"), contexts=(1024, 4096), batches=(1, 8, 32),
             dtypes=("fp16", "bf16"), shape_scale: int = 1, copy_mib: int = 1024, repeats: int = 5,
             min_timed_s: float = MIN_TIMED_S, max_layers: int | None = None, train_steps: int = 20,
             train_shape: dict | None = None, seed: int = 0) -> CheckResult:
    """`max_layers`: time at most this many layers (None: as many as fit in half the free memory)."""
    device = ctx.device
    identity = device.identity()
    unknown = [m for m in models if m not in DECODER_SHAPES]
    if unknown:
        raise CheckCannotStart(f"unknown model shape(s) {', '.join(unknown)}; known: {', '.join(DECODER_SHAPES)}")
    # BF16 from Ampere (8.0); FP16 storage and arithmetic on every card CUDA still supports (slow on Pascal,
    # which is what the buyer of one gets).
    major = int((identity.compute_capability or "0").split(".")[0] or 0)
    chosen = [d for d in dtypes if d != "bf16" or major >= 8]
    train_shape = train_shape or TRAIN_SHAPE
    steps_total = len(models) * len(chosen) * len(batches) * len(contexts) + 2 * (len(chosen) + 1) + 2
    done = [0]

    def progress(phase: str) -> None:
        done[0] += 1
        ctx.report(done[0] / steps_total, phase)

    progress("memory that can be allocated")
    _, total = device.memory_info()
    probed = allocatable_bytes(device)
    if probed == 0:
        raise CheckCannotStart("no device memory could be allocated")
    # The share of memory this device could allocate, of the card's size: on a simulated card (a scaled-down
    # memory) this says what the card itself would have; on a real card it is the probe itself.
    card_bytes = probed / total * identity.vram_total_bytes if total else probed
    progress("copy bandwidth")
    copy_gbs = copy_bandwidth_gbs(device, copy_mib, repeats, min_timed_s)

    measurements: list[DecodeMeasurement] = []
    for index, model in enumerate(models):
        shape = DECODER_SHAPES[model]
        for dtype_name in chosen:
            measurements += measure_decode(
                ctx, shape=shape, run_shape=shape.scaled(shape_scale), dtype_name=dtype_name, batches=batches,
                contexts=contexts, shape_scale=shape_scale, card_bytes=card_bytes, copy_gbs=copy_gbs,
                repeats=repeats, min_timed_s=min_timed_s, max_layers=max_layers, seed=seed + index,
                progress=progress)

    found = Findings()
    mixed = [d for d in chosen if d in AI_LOSS_TOLERANCE]  # FP32 is the reference, not a precision under test
    training_metrics, evidence = check_training(ctx, mixed, train_shape, train_steps, seed, found, progress)

    headline = {}
    extrapolated = []
    for m in measurements:
        if m.batch == batches[0] and m.context == contexts[0] and m.tokens_per_s and m.fits:
            headline[f"{m.model}_{m.dtype}"] = round(m.tokens_per_s, 1)
        if m.dtype == chosen[0] and m.batch == batches[0] and m.context == contexts[0] and m.tokens_per_s:
            extrapolated += [extrapolated_decode(DECODER_SHAPES[m.model], m, copy_gbs, card_bytes, p)
                             for p in ("int8", "int4")]
    context = largest_context(DECODER_SHAPES[LARGEST_CONTEXT_MODEL], card_bytes)
    metrics = {
        "copy_bandwidth_gbs": round(copy_gbs, 1),
        "allocatable_gib": round(card_bytes / 2**30, 2),
        "shape_scale": shape_scale,
        "dtypes": chosen,
        "decode_tokens_per_s": headline,  # batch 1 at the first context, where the whole model fits
        "decode": [m.as_dict() for m in measurements],
        "decode_extrapolated": extrapolated,
        "largest_context_tokens": context,
        "training": training_metrics,
    }
    shown = ", ".join(f"{key.replace('_', ' ').upper()} {value:.1f} tok/s" for key, value in headline.items())
    passed = (f"decode {shown or 'measured (no model fits whole)'}; training in "
              f"{'/'.join(d.upper() for d in mixed) or 'FP32'} follows FP32 over {train_steps} steps; "
              f"{context[f'{LARGEST_CONTEXT_MODEL}_fp16']:,} tokens of 7B context at FP16")
    return CheckResult.from_findings("ai", found, passed, metrics, evidence)
