#!/usr/bin/env python3
"""aic_compare.py: aiconfigurator 0.12.0's compiled engine on bench_step's repeated shapes.

Issue 20's goal: moesim's step model on repeated shapes >= 10x aiconfigurator's compiled engine on
the same work. This side times aiconfigurator; tests/bench/aic_compare.sh times moesim
(`bench_step repeated`) in alternation and prints the ratios.

The same work as bench_step's "repeated" sweep (tests/bench/bench_step.c, repeated()):
DeepSeek-V3 (its checkpoint's FP8 block quantisation, inferred by aiconfigurator from the HF
config it ships) on 8 x H200 SXM, attention DP 8 and MoE EP 8 (TP 1), TensorRT-LLM's tables,
decode only, 64 shapes of 1 + 5i sequences per attention rank (i < 64) at 2,048 tokens of
context, swept again and again for `seconds`, evaluations per CPU second (time.process_time).

aiconfigurator 0.12's "compiled engine" is the Rust extension of the aiconfigurator-core
package (aiconfigurator_core._aiconfigurator_core, class AicEngine): Python walks the model once
into a bincoded EngineSpec (aiconfigurator_core.sdk.engine.compile_engine), and every step is
then evaluated in Rust. Its decode step is one pass over the generation ops at
s = isl + osl // 2 + 1 (aiconfigurator_core/sdk/rust_engine_step.py,
estimate_decode_step_latency_with_rust), so isl 2046 and osl 2 put each sequence at 2,048.
Two entry points, timed apart:
  - decode_step_latency(gen_tokens, isl, osl): the step's time alone (ms), against moesim's
    sim_step_plan_time;
  - decode_step_per_op(gen_tokens, isl, osl): the step's per-op breakdown, a list of
    (op name, latency ms, energy, source) (7 ops for DeepSeek-V3: embedding, two add+norms, the
    MLA block, the MoE with its all-to-all, the logits GEMM, p2p), against moesim's
    sim_step_plan_eval (the full sim_step_result).
Both are called as aiconfigurator's callers call them, from Python; the floor a Python loop and
one call with three int arguments put under any such figure is printed beside them, and so is
the engine's cost per step with no Python between steps (run_static over a decode run).

Prints `key value` lines (rates in evaluations per CPU second) for aic_compare.sh to read.
"""

import importlib.metadata
import sys
import time

WANT = "0.12.0"
SHAPES = [1 + 5 * i for i in range(64)]  # bench_step.c shapes_set(): 1 + 5i sequences per rank
ISL, OSL = 2046, 2  # s = isl + osl // 2 + 1 = 2048, bench_step's decode_ctx


def rate(fn, seconds):
    """Evaluations per CPU second of fn over SHAPES, swept until `seconds` of wall time pass."""
    for b in SHAPES:  # warm: every shape asked once before the clock starts
        fn(b, ISL, OSL)
    n = 0
    t0, c0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        for b in SHAPES:
            fn(b, ISL, OSL)
        n += len(SHAPES)
    return n / (time.process_time() - c0)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    for pkg in ("aiconfigurator", "aiconfigurator-core"):
        have = importlib.metadata.version(pkg)
        if have != WANT:
            print(f"aic_compare.py: {pkg} {have} installed, this comparison is pinned to {WANT}", file=sys.stderr)
            return 2
    from aiconfigurator_core.sdk.engine import EngineHandle  # noqa: E402 (after the version check)

    c0 = time.process_time()
    handle = EngineHandle.compile(
        "deepseek-ai/DeepSeek-V3", "h200_sxm", "trtllm",
        tp_size=1, attention_dp_size=8, moe_tp_size=1, moe_ep_size=8,
    )
    engine = handle._engine  # the PyO3 AicEngine itself: no wrapper call in the timed loop
    print(f"compile_cpu_s {time.process_time() - c0:.3f}")
    per_op = engine.decode_step_per_op(SHAPES[-1], ISL, OSL)
    print("per_op_names " + ",".join(op[0] for op in per_op))
    print(f"step_ms_1 {engine.decode_step_latency(1, ISL, OSL):.4f}")
    print(f"step_ms_316 {engine.decode_step_latency(SHAPES[-1], ISL, OSL):.4f}")
    print(f"latency {rate(engine.decode_step_latency, seconds):.0f}")
    print(f"per_op {rate(engine.decode_step_per_op, seconds):.0f}")
    print(f"python_floor {rate(max, seconds / 2):.0f}")
    # Context, not the comparison: a whole decode run inside Rust (run_static "static_gen",
    # stride 1: one step evaluation per generated token, each at its own context length, no
    # Python between them), CPU ns per step at 64 sequences per rank, 64 steps.
    steps, n = 64, 0
    c0 = time.process_time()
    while time.process_time() - c0 < seconds / 2:
        engine.run_static(64, 1, ISL, steps + 1, 0, 1.0, 1.0, "static_gen", 1)
        n += steps
    print(f"run_static_ns_per_step {(time.process_time() - c0) / n * 1e9:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
