"""VRAM test: memtest-style patterns over (nearly) all free device memory, vectorised in torch.

Memory is taken as large chunks of 32-bit words; every pattern writes a chunk, lets the device finish
(`synchronize`, where a simulated card's bad cells act), then reads it back slice by slice, so the memory this test
adds beyond the buffer under test is a few slices' worth of temporaries (about 3.25 slices: two work tensors, the
offsets, a mask). A slice is the largest power of two from 32 MiB up to the chunk whose temporaries stay within 1%
of free memory. The comparison stays on the device: each slice only raises a flag there, and the host reads the
flag once per chunk, whose size is set from the card's copy bandwidth measured here (CHUNK_TARGET_S of work), so a
fast card is not held up by host round trips (docs/benchmarks.md). Only a chunk whose flag is up is read again slice
by slice to find the words; where the second reading finds nothing, the first was a bad read.
A mismatching word is read again to tell a bad cell (still wrong) from a bad read (right the second time). The
evidence — first failing addresses with expected/actual/XOR, which data bits flip, how many bits per word — tells a
stuck data line, an address fault and scattered weak cells apart (as memtest_vulkan reports them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import torch

from ..hardware.base import DeviceBuffer
from .base import CheckCannotStart, CheckContext, CheckResult
from .findings import Findings
from .performance import copy_bandwidth_gbs

WORD = 4
HISTOGRAM_SAMPLE = 1 << 20
ALL_PATTERNS = ("walking_ones", "walking_zeros", "own_address", "moving_inversions", "walking_8bit",
                "random_blocks", "modulo_20", "retention")


def _i32(value: int) -> int:
    """An unsigned 32-bit pattern as the signed value a torch int32 holds."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


@dataclass
class ErrorLog:
    max_reported: int
    count: int = 0
    bad_reads: int = 0  # mismatches that read correctly the second time
    first: list[dict] = field(default_factory=list)
    bit_counts: list[int] = field(default_factory=lambda: [0] * 32)
    bits_per_word: dict[int, int] = field(default_factory=dict)
    by_pattern: dict[str, int] = field(default_factory=dict)
    addresses: set[int] = field(default_factory=set)  # distinct failing addresses, up to a cap

    def record(self, pattern: str, buffer: DeviceBuffer, device, offset: int, index: torch.Tensor,
               actual: torch.Tensor, expected: torch.Tensor) -> None:
        """Account for mismatching words at `index` (word indexes into the buffer, `offset` already added)."""
        n = int(index.numel())
        self.count += n
        self.by_pattern[pattern] = self.by_pattern.get(pattern, 0) + n
        # Histograms over at most HISTOGRAM_SAMPLE words, one temporary at a time: a stuck data line or an address
        # fault makes every word of a slice wrong, and the memory left beside the test is small.
        xor = torch.bitwise_xor(actual[:HISTOGRAM_SAMPLE], expected[:HISTOGRAM_SAMPLE])
        flipped = torch.zeros_like(xor)
        for bit in range(32):
            column = torch.bitwise_right_shift(xor, bit).bitwise_and_(1)
            self.bit_counts[bit] += int(column.sum())
            flipped.add_(column)
        for k, c in zip(*torch.unique(flipped, return_counts=True), strict=True):
            self.bits_per_word[int(k)] = self.bits_per_word.get(int(k), 0) + int(c)
        if len(self.addresses) < 4096:
            self.addresses.update(int(buffer.address + WORD * i) for i in index[:4096].tolist())
        room = self.max_reported - len(self.first)
        if room <= 0:
            return
        device.synchronize(buffer)
        reread = buffer.tensor[index[:room]]
        for i, act, exp, again in zip(index[:room].tolist(), actual[:room].tolist(), expected[:room].tolist(),
                                      reread.tolist(), strict=True):
            cell = again != exp
            if not cell:
                self.bad_reads += 1
            self.first.append({
                "address": f"0x{buffer.address + WORD * i:x}", "pattern": pattern,
                "expected": f"0x{exp & 0xFFFFFFFF:08x}", "actual": f"0x{act & 0xFFFFFFFF:08x}",
                "xor": f"0x{(act ^ exp) & 0xFFFFFFFF:08x}", "kind": "cell" if cell else "read",
            })

    def unrepeated(self, pattern: str, buffer: DeviceBuffer) -> None:
        """A chunk whose flag went up once and whose second reading was right: at least one bad read, somewhere in
        the chunk (which words the first reading got wrong, the device did not keep)."""
        self.count += 1
        self.bad_reads += 1
        self.by_pattern[pattern] = self.by_pattern.get(pattern, 0) + 1
        if len(self.first) < self.max_reported:
            self.first.append({"address": f"0x{buffer.address:x}-0x{buffer.address + buffer.words * WORD - 1:x}",
                               "pattern": pattern, "expected": None, "actual": None, "xor": None, "kind": "read"})

    @property
    def only_bad_reads(self) -> bool:
        """Every error was read again and came back right: the memory holds its data, a read went wrong."""
        return bool(self.count) and self.bad_reads == self.count == len(self.first)

    def diagnosis(self) -> str:
        return self.diagnose()[1]

    def diagnose(self) -> tuple[str, str]:
        """(finding code, sentence) for the pattern of the errors."""
        if not self.count:
            return "", "no errors"
        if self.only_bad_reads:
            return "vram.bad_reads", (f"{self.count} bad read(s): the word read wrong once and right on the re-read "
                                      "(the cells hold their data; signal integrity or a marginal memory clock)")
        flipping = [bit for bit, c in enumerate(self.bit_counts) if c]
        multi_bit = sum(c for k, c in self.bits_per_word.items() if k >= 4)
        if multi_bit > self.count / 2:
            return "vram.address_fault", ("address or bank fault: many bits wrong per word, as when words land at "
                                          "the wrong address")
        if len(flipping) == 1 and len(self.addresses) >= 32:
            return "vram.stuck_data_line", (f"stuck data line: bit {flipping[0]} wrong at {len(self.addresses)} "
                                            "addresses")
        if len(self.addresses) == 1:
            return "vram.bad_cell", f"one bad cell: bit {'/'.join(map(str, flipping))} at {self.first[0]['address']}"
        if self.by_pattern.get("retention") and self.by_pattern["retention"] == self.count:
            return "vram.weak_cells", (f"weak cells: {len(self.addresses)} cells lose their charge when left idle "
                                       "(bit fade)")
        return "vram.scattered_errors", f"scattered bad cells: {len(self.addresses)} addresses, bits {flipping}"


SLICE_MIN_MIB = 32
SLICE_MEMORY_SHARE = 0.01  # of free memory, for the temporaries beside the buffer under test
SLICE_TEMPORARIES = 3.25  # slices' worth of temporaries: two work tensors, the offsets, a comparison mask


def slice_mib_for(free_bytes: int, chunk_mib: int) -> int:
    """The largest power-of-two slice (MiB) from SLICE_MIN_MIB up to the chunk whose temporaries fit the budget."""
    slice_mib = SLICE_MIN_MIB
    while slice_mib * 2 <= chunk_mib and slice_mib * 2 * 2**20 * SLICE_TEMPORARIES <= free_bytes * SLICE_MEMORY_SHARE:
        slice_mib *= 2
    return min(slice_mib, chunk_mib)


CHUNK_TARGET_S = 0.005  # a chunk's pass lasts about this long at the card's copy bandwidth: one host read of the flag
CHUNK_MIN_MIB = 256


def chunk_mib_for(bandwidth_gbs: float, free_bytes: int) -> int:
    """The largest power-of-two chunk (MiB) from CHUNK_MIN_MIB whose pass takes no more than CHUNK_TARGET_S at the
    measured bandwidth, and no more than an eighth of free memory (so that allocation still fits around others)."""
    chunk = CHUNK_MIN_MIB
    while (chunk * 2 * 2**20 <= bandwidth_gbs * 1e9 * CHUNK_TARGET_S
           and chunk * 2 * 2**20 <= free_bytes / 8):
        chunk *= 2
    return chunk


class VramTest:
    def __init__(self, ctx: CheckContext, *, coverage: float, chunk_mib: int | None, slice_mib: int | None,
                 patterns, retention_s: float, modulo_offsets: int, seed: int, max_reported: int):
        self.ctx = ctx
        self.device = ctx.device
        self.coverage = coverage
        self.copy_gbs = None  # measured only where it sizes the chunks (the plan gives none)
        if chunk_mib is None:
            free = self.device.memory_info()[0]
            try:  # the copy check's measurement over a little of the card; no room to measure: the smallest chunks
                self.copy_gbs = copy_bandwidth_gbs(self.device, max(1, min(64, free // 8 // 2**20)), 3, 0.0)
            except MemoryError:
                self.copy_gbs = 0.0
            chunk_mib = chunk_mib_for(self.copy_gbs, self.device.memory_info()[0])
        self.chunk_mib = chunk_mib
        self.chunk_words = chunk_mib * 2**20 // WORD
        if slice_mib is None:
            slice_mib = slice_mib_for(self.device.memory_info()[0], chunk_mib)
        self.slice_mib = slice_mib
        self.slice_words = slice_mib * 2**20 // WORD
        self.patterns = list(patterns)
        self.retention_s = retention_s
        self.modulo_offsets = modulo_offsets
        self.seed = seed
        self.errors = ErrorLog(max_reported)
        self.buffers: list[DeviceBuffer] = []
        self.scratch: tuple[torch.Tensor, torch.Tensor] | None = None
        self.offsets: torch.Tensor | None = None
        self.bytes_moved = 0
        self.steps_done = 0
        self.steps_total = 1
        self.detailed = False  # compare and record slice by slice (the second reading of a flagged chunk)
        self.flag: torch.Tensor | None = None  # on the device: a slice since the last read disagreed
        self.flag_seen = False  # the same, where the comparison ran on the host's own memory

    # --- memory ---------------------------------------------------------------------------------------
    def allocate(self) -> tuple[int, int]:
        free, total = self.device.memory_info()
        remaining = int(free * self.coverage) // WORD
        chunk = self.chunk_words
        min_chunk = 2**16
        while remaining > 0:
            size = min(chunk, remaining)
            try:
                self.buffers.append(self.device.alloc_words(size))
                remaining -= size
            except MemoryError:
                if chunk <= min_chunk:
                    break
                chunk //= 2  # fragmentation or another process: take smaller pieces
        if not self.buffers:
            raise CheckCannotStart(f"no device memory could be allocated ({free} bytes reported free)")
        return free, total

    def release(self) -> None:
        for buffer in self.buffers:
            self.device.free(buffer)
        self.buffers.clear()

    def slices(self, buffer: DeviceBuffer, reverse: bool = False):
        starts = range(0, buffer.words, self.slice_words)
        for start in reversed(starts) if reverse else starts:
            yield start, min(start + self.slice_words, buffer.words)

    def step(self, phase: str) -> None:
        self.steps_done += 1
        self.ctx.report(self.steps_done / self.steps_total, phase)

    # --- expected contents ----------------------------------------------------------------------------
    def _scratch(self, buffer: DeviceBuffer, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Two reusable slice-sized work tensors: fresh allocations cost more than the arithmetic (first-touch page
        faults), and reusing them bounds what the test adds beyond the memory under test."""
        if self.scratch is None or self.scratch[0].numel() < count:
            device = buffer.tensor.device
            self.scratch = (torch.empty(self.slice_words, dtype=torch.int32, device=device),
                            torch.empty(self.slice_words, dtype=torch.int32, device=device))
            # Byte offsets 0, 4, 8, … of a slice, computed once: every address pattern is this plus a constant.
            self.offsets = torch.arange(0, self.slice_words * WORD, WORD, dtype=torch.int32, device=device)
        return self.scratch[0][:count], self.scratch[1][:count]

    def address_words(self, buffer: DeviceBuffer, start: int, end: int) -> torch.Tensor:
        """Each word holds (the low 32 bits of) its own byte address. int32 arithmetic wraps, as wanted."""
        words, _ = self._scratch(buffer, end - start)
        return torch.add(self.offsets[:end - start], _i32(buffer.address + start * WORD), out=words)

    def random_words(self, buffer: DeviceBuffer, start: int, end: int, salt: int) -> torch.Tensor:
        """Seeded pseudo-random words: a murmur-style hash of the word's address, so any slice can be regenerated
        for checking without keeping a copy."""
        x = self.address_words(buffer, start, end)
        _, shifted = self._scratch(buffer, end - start)
        x.add_(_i32(self.seed * 0x9E3779B1 + salt * 0x7F4A7C15))
        for shift, multiplier in ((16, 0x85EBCA6B), (13, 0xC2B2AE35), (16, None)):
            torch.bitwise_right_shift(x, shift, out=shifted)
            x.bitwise_xor_(shifted)
            if multiplier:
                x.mul_(_i32(multiplier))
        return x

    # --- write / verify -------------------------------------------------------------------------------
    def write(self, buffer: DeviceBuffer, value, start: int = 0, end: int | None = None) -> None:
        end = buffer.words if end is None else end
        target = buffer.tensor[start:end]
        if isinstance(value, int):
            target.fill_(value)
        else:
            target.copy_(value)
        self.bytes_moved += (end - start) * WORD

    def raise_flag_if_different(self, actual: torch.Tensor, expected) -> None:
        """Compare without a host round trip: on a GPU the answer stays in a flag on the device, read once per chunk
        (mismatch_seen); on the host's own memory there is no round trip to save, so the answer is read at once."""
        if actual.device.type == "cpu":
            if isinstance(expected, int):
                low, high = torch.aminmax(actual)
                self.flag_seen |= not int(low) == expected == int(high)
            else:
                self.flag_seen |= not torch.equal(actual, expected)
            return
        if self.flag is None:
            self.flag = torch.zeros((), dtype=torch.bool, device=actual.device)
        if isinstance(expected, int):  # all equal to a constant iff min == max == constant: no temporaries
            low, high = torch.aminmax(actual)
            self.flag |= (low != expected) | (high != expected)
        else:
            self.flag |= (actual != expected).any()

    def mismatch_seen(self) -> bool:
        """Whether any slice disagreed since the last call: the one host read of a chunk's pass."""
        seen, self.flag_seen = self.flag_seen, False
        if self.flag is not None:
            self.device.synchronize()
            seen |= bool(self.flag)
            self.flag.zero_()
        return seen

    def read_again(self, pattern: str, buffer: DeviceBuffer, again: Callable[[], None]) -> None:
        """A flagged chunk, read again slice by slice with every wrong word recorded; if the second reading finds
        nothing, the first one was a bad read."""
        before = self.errors.count
        self.detailed = True
        try:
            again()
        finally:
            self.detailed = False
        if self.errors.count == before:
            self.errors.unrepeated(pattern, buffer)

    def verify(self, pattern: str, buffer: DeviceBuffer, expected, start: int, end: int,
               step: int = 1, first: int = 0) -> None:
        actual = buffer.tensor[start + first:end:step]
        self.bytes_moved += actual.numel() * WORD
        if actual.numel() == 0:
            return
        if not self.detailed:
            self.raise_flag_if_different(actual, expected if isinstance(expected, int) else expected[first::step])
            return
        if isinstance(expected, int):
            low, high = torch.aminmax(actual)
            if int(low) == expected == int(high):
                return
            wrong = actual != expected
        else:
            expected = expected[first::step]
            if torch.equal(actual, expected):
                return
            wrong = actual != expected
        if bool(wrong.any()):
            local = wrong.nonzero().flatten()
            exp = torch.full_like(local, expected, dtype=torch.int32) if isinstance(expected, int) else \
                expected[local]
            self.errors.record(pattern, buffer, self.device, start + first, local * step + start + first,
                               actual[local], exp)

    def fill_verify(self, pattern: str, make) -> None:
        """Write every chunk with `make(buffer, start, end)`, let the device settle, read it all back."""
        for buffer in self.buffers:
            for start, end in self.slices(buffer):
                self.write(buffer, make(buffer, start, end), start, end)
            self.device.synchronize(buffer)

            def read(buffer=buffer):
                for start, end in self.slices(buffer):
                    self.verify(pattern, buffer, make(buffer, start, end), start, end)

            read()
            if self.mismatch_seen():
                self.read_again(pattern, buffer, read)
            self.step(pattern)

    def moving_inversions(self, pattern: str, make) -> None:
        """Write p; ascending: check p, write ~p; descending: check ~p, write p; check p."""
        def inverted(buffer, start, end):
            value = make(buffer, start, end)
            return value.bitwise_not_() if not isinstance(value, int) else _i32(~value)

        def passes(buffer):
            for start, end in self.slices(buffer):
                self.write(buffer, make(buffer, start, end), start, end)
            self.device.synchronize(buffer)
            for start, end in self.slices(buffer):
                self.verify(pattern, buffer, make(buffer, start, end), start, end)
                self.write(buffer, inverted(buffer, start, end), start, end)
            self.device.synchronize(buffer)
            for start, end in self.slices(buffer, reverse=True):
                self.verify(pattern, buffer, inverted(buffer, start, end), start, end)
                self.write(buffer, make(buffer, start, end), start, end)
            self.device.synchronize(buffer)
            for start, end in self.slices(buffer):
                self.verify(pattern, buffer, make(buffer, start, end), start, end)

        for buffer in self.buffers:
            passes(buffer)
            if self.mismatch_seen():  # what was read is overwritten: run the passes again, recording as they go
                self.read_again(pattern, buffer, partial(passes, buffer))
            self.step(pattern)

    # --- the patterns ---------------------------------------------------------------------------------
    def plan(self) -> list[tuple[str, Callable[[], None]]]:
        """The (pattern, job) list for the chosen patterns, in order."""
        def constant(value: int):
            return lambda *args: value

        def random_words(salt: int):
            return lambda b, s, e: self.random_words(b, s, e, salt=salt)

        jobs: list[tuple[str, Callable[[], None]]] = []
        for name in self.patterns:
            if name == "walking_ones":
                jobs += [(name, partial(self.fill_verify, name, constant(_i32(1 << bit)))) for bit in range(32)]
            elif name == "walking_zeros":
                jobs += [(name, partial(self.fill_verify, name, constant(_i32(~(1 << bit))))) for bit in range(32)]
            elif name == "own_address":
                jobs.append((name, partial(self.fill_verify, name, self.address_words)))
            elif name == "moving_inversions":
                jobs += [(name, partial(self.moving_inversions, name, maker))
                         for maker in (constant(0), constant(_i32(0xFFFFFFFF)), random_words(1))]
            elif name == "walking_8bit":
                jobs += [(name, partial(self.moving_inversions, name, constant(_i32(0x01010101 << k))))
                         for k in range(8)]
            elif name == "random_blocks":
                jobs.append((name, partial(self.fill_verify, name, random_words(2))))
            elif name == "modulo_20":
                jobs += [(name, partial(self.modulo_20, offset)) for offset in range(self.modulo_offsets)]
            elif name == "retention":
                jobs.append((name, self.retention))
            else:
                raise ValueError(f"unknown VRAM pattern {name!r}; patterns are {', '.join(ALL_PATTERNS)}")
        return jobs

    def modulo_20(self, offset: int) -> None:
        """Write the pattern to every 20th word, then its complement to all the others (the writes that may
        disturb the pattern cells), then check the pattern cells."""
        value = _i32(0x5A5A5A5A)
        for buffer in self.buffers:
            words = buffer.tensor
            words[offset::20].fill_(value)
            whole = words.numel() // 20 * 20
            rows = words[:whole].view(-1, 20)
            rows[:, :offset].fill_(_i32(~value))
            rows[:, offset + 1:].fill_(_i32(~value))
            tail = words[whole:]
            if tail.numel():
                keep = tail[offset].clone() if offset < tail.numel() else None
                tail.fill_(_i32(~value))
                if keep is not None:
                    tail[offset] = keep
            self.bytes_moved += buffer.words * WORD
            self.device.synchronize(buffer)

            def read(buffer=buffer):
                for start, end in self.slices(buffer):
                    self.verify("modulo_20", buffer, value, start, end, step=20, first=(offset - start) % 20)

            read()
            if self.mismatch_seen():
                self.read_again("modulo_20", buffer, read)
            self.step("modulo_20")

    def retention(self) -> None:
        """Write, leave the memory idle, read back: cells that cannot hold their charge fade. All ones, then all
        zeros, half the time each: true cells leak 1 → 0, anti-cells (charged when 0) leak 0 → 1."""
        for value in (_i32(0xFFFFFFFF), 0):
            for buffer in self.buffers:
                for start, end in self.slices(buffer):
                    self.write(buffer, value, start, end)
                self.device.synchronize(buffer)
            deadline = time.monotonic() + self.retention_s / 2
            while time.monotonic() < deadline:
                self.ctx.report(self.steps_done / self.steps_total, "retention (idle)")
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
            for buffer in self.buffers:
                self.device.synchronize(buffer)

                def read(buffer=buffer, value=value):
                    for start, end in self.slices(buffer):
                        self.verify("retention", buffer, value, start, end)

                read()
                if self.mismatch_seen():
                    self.read_again("retention", buffer, read)
        self.step("retention")

    def run(self) -> CheckResult:
        started = time.monotonic()
        free, total = self.allocate()
        try:
            jobs = self.plan()
            self.steps_total = sum(len(self.buffers) if name != "retention" else 1 for name, _ in jobs) or 1
            for _, job in jobs:
                job()
        finally:
            tested = sum(b.words for b in self.buffers) * WORD
            self.release()
            self.scratch = self.offsets = None
        elapsed = time.monotonic() - started
        errors = self.errors
        metrics = {
            "tested_bytes": tested, "free_bytes": free, "total_bytes": total,
            "coverage_of_free": round(tested / free, 4) if free else 0.0,
            "errors": errors.count, "bad_reads": errors.bad_reads,
            "distinct_addresses": len(errors.addresses),
            "patterns": sorted(set(self.patterns)),
            "throughput_gbs": round(self.bytes_moved / elapsed / 1e9, 3) if elapsed else 0.0,
            "slice_mib": self.slice_mib, "chunk_mib": self.chunk_mib,
            "copy_bandwidth_gbs": round(self.copy_gbs, 1) if self.copy_gbs is not None else None,
        }
        evidence = {}
        found = Findings()
        if errors.count:
            code, diagnosis = errors.diagnose()
            evidence = {"first_errors": errors.first, "bit_histogram": errors.bit_counts,
                        "bits_per_word": dict(sorted(errors.bits_per_word.items())),
                        "errors_by_pattern": errors.by_pattern, "diagnosis": diagnosis}
            first = errors.first[0] if errors.first else {}
            where = f"; first at {first['address']}: wrote {first['expected']}, read {first['actual']}" if first else ""
            if code == "vram.bad_reads":  # the cells hold their data: a warning that names the reads
                found.warn(code, f"{diagnosis}; first at {first['address']} ({first['pattern']})",
                           measured={"bad_reads": errors.bad_reads, "addresses": [e["address"] for e in errors.first]},
                           threshold=0)
            else:
                found.fail(code, f"{errors.count} bit errors, {diagnosis}{where}", measured=errors.count,
                           threshold=0)
        elif metrics["coverage_of_free"] < self.coverage - 0.005:
            found.warn("vram.coverage_short", f"no errors, but only {metrics['coverage_of_free']:.0%} of free memory "
                       f"could be tested (target {self.coverage:.0%})", measured=metrics["coverage_of_free"],
                       threshold=self.coverage, source="the test plan's vram coverage")
        return CheckResult.from_findings(
            "vram", found, f"no errors in {tested / 2**30:.2f} GiB ({metrics['coverage_of_free']:.0%} of free)",
            metrics, evidence)


def vram_check(ctx: CheckContext, *, coverage: float = 0.95, chunk_mib: int | None = None,
               slice_mib: int | None = None,
               patterns=ALL_PATTERNS, retention_s: float = 10.0, modulo_offsets: int = 20, seed: int = 0,
               max_reported: int = 32) -> CheckResult:
    return VramTest(ctx, coverage=coverage, chunk_mib=chunk_mib, slice_mib=slice_mib, patterns=patterns,
                    retention_s=retention_s, modulo_offsets=modulo_offsets, seed=seed,
                    max_reported=max_reported).run()
