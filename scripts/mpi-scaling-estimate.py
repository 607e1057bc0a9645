#!/usr/bin/env python3
"""Scaling estimate of multi-process training to 8, 64 and 256 machines (docs/results/mpi.md).

Weak scaling: every machine trains B = 64 sequences of T = 100 per step (I = 128, O = 128, one
layer), so the global minibatch is 64·N and the per-machine compute time per step is the one
measured on one machine (--compute-ms, H = 512; H = 1024 scaled by FLOPs per token).

Communication per step, P = gradient floats, β = link bandwidth (bytes/s), α = latency per message:
  exact reduce-scatter + sharded optimizer (what lstm does, ExactReduction.swift): MPI_Alltoallv of
      every rank's subtree sums restricted to each destination's slice of P/N floats, the fixed tree
      finished on the slice, the slice updated (ZeRO-1), then MPI_Allgatherv of the updated weights;
      plus the all-gather of the gradient norm's block sums (8 bytes per 256 floats):
      3(N−1)·α + 2·(N−1)/N·4P/β + (N−1)/N·8P/256/β on the wire, plus (N−1)/N·P additions;
  the former allgather (every rank received every rank's subtree sums and finished the whole tree):
      (N−1)·α + (N−1)·4P/β, plus (N−1)·P additions;
  ring allreduce (Horovod/DDP, not bitwise reproducible), for reference: 2(N−1)·α + 2·(N−1)/N·4P/β.
Overlap: "none" adds communication to compute; "overlap" takes max(compute, communication) — the
bound that overlapping the reduce-scatter with backpropagation (and the weights' all-gather with
the next forward pass) approaches; not built (an LSTM layer's weight gradients are complete only
at the end of its backpropagation through time, so a one-layer model overlaps little).
"""
import argparse

I, O, T, B = 128, 128, 100, 64


def params(h):
    return 4 * h * (I + h + 1) + O * (h + 1)


def flops_per_token(h):
    return 24 * h * (I + h) + 6 * h * O


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compute-ms", type=float, required=True, help="measured ms per step, one machine, H = 512")
    ap.add_argument("--add-ns", type=float, default=1.0, help="ns per float addition of the tree (memory bound)")
    ap.add_argument("--loopback-gbs", type=float, default=None, help="measured allgather GB/s on this machine")
    a = ap.parse_args()
    links = [("10 Gb/s", 10e9 / 8, 20e-6), ("100 Gb/s", 100e9 / 8, 5e-6)]
    print(
        "| H | P (MB) | link | N | compute ms | former allgather ms | eff. (none / overlap) "
        "| reduce-scatter + weights all-gather ms | eff. (none / overlap) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for h in (512, 1024):
        p = params(h)
        tc = a.compute_ms / 1e3 * flops_per_token(h) / flops_per_token(512)
        for name, beta, alpha in links:
            for n in (8, 64, 256):
                ag = (n - 1) * alpha + (n - 1) * 4 * p / beta + (n - 1) * p * a.add_ns * 1e-9
                rs = (
                    3 * (n - 1) * alpha
                    + 2 * (n - 1) / n * 4 * p / beta
                    + (n - 1) / n * 8 * p / 256 / beta
                    + (n - 1) / n * p * a.add_ns * 1e-9
                )

                def eff(c):
                    return f"{tc / (tc + c):.2f} / {tc / max(tc, c):.2f}"

                print(
                    f"| {h} | {4 * p / 1e6:.1f} | {name} | {n} | {tc * 1e3:.0f} | {ag * 1e3:.0f} | {eff(ag)} "
                    f"| {rs * 1e3:.0f} | {eff(rs)} |"
                )
    if a.loopback_gbs:
        print(f"\n(this machine's loopback allgather: {a.loopback_gbs:.2f} GB/s received per rank)")


if __name__ == "__main__":
    main()
