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
the next forward pass) approaches. With --overlap-fraction F (the measured `overlap` of
metrics.jsonl: the fraction of the exchange hidden behind backpropagation, parallel.overlap) the
"overlap" column is compute / (compute + (1 − F)·communication) instead of that bound.
--layers L: a stack of L layers (layers above the first take H inputs); the compute time is
--compute-ms (one layer, H = 512) scaled by FLOPs per token.
"""
import argparse

I, O, T, B = 128, 128, 100, 64


LAYERS = 1


def params(h, layers=None):
    layers = LAYERS if layers is None else layers
    return 4 * h * (I + h + 1) + (layers - 1) * 4 * h * (2 * h + 1) + O * (h + 1)


def flops_per_token(h, layers=None):
    layers = LAYERS if layers is None else layers
    return 24 * h * (I + h) + (layers - 1) * 24 * h * (2 * h) + 6 * h * O


def allgather_seconds(n, h, beta, alpha, add_ns=1.0, wire_efficiency=1.0, arenas_per_rank=1, stack_factor=1.0):
    """The allgather as built, on a switch whose every port runs at beta bytes/s each way: every rank
    receives the other ranks' subtree sums, (N−1)·arenas·4P bytes through its port (payload at
    wire_efficiency of the line rate: TCP/IP/Ethernet headers), in N−1 messages, then adds them.
    stack_factor multiplies the wire time: measured on the simulated hosts (docs/results/mpi.md,
    "Simulated hosts"), Open MPI 4.1's TCP transport took 1.6-2.4x the wire time at 1 Gb/s."""
    p = params(h)
    received = (n - 1) * arenas_per_rank * 4 * p
    return (n - 1) * alpha + stack_factor * received / (beta * wire_efficiency) + (n - 1) * p * add_ns * 1e-9


def reduce_scatter_seconds(n, h, beta, alpha, add_ns=1.0, wire_efficiency=1.0, stack_factor=1.0):
    """What lstm sends now, per step and rank: the Alltoallv of the gradient slices, the all-gather
    of the norm's block sums, the non-finite flag, the Allgatherv of the updated weights (3 messages
    per peer that carry data); stack_factor multiplies the wire time as in allgather_seconds."""
    p = params(h)
    wire = 2 * (n - 1) / n * 4 * p + (n - 1) / n * 8 * p / 256
    return 3 * (n - 1) * alpha + stack_factor * wire / (beta * wire_efficiency) + (n - 1) / n * p * add_ns * 1e-9


def exchange_mode(a):
    """--exchange N H GBITS: the predicted gradient exchange of one step on shaped links (the
    simulated hosts of scripts/mpi-netns-cluster.sh), to set against metrics.jsonl's exchange_s.
    Plus the per-collective arrival round trips (lstm's timeout mechanism: 2 collectives a step)."""
    n, h, gbits = int(a.exchange[0]), int(a.exchange[1]), float(a.exchange[2])
    alpha = a.latency_us * 1e-6
    if a.kind == "allgather":
        t = allgather_seconds(n, h, gbits * 1e9 / 8, alpha, a.add_ns, a.wire_efficiency, stack_factor=a.stack_factor)
        t += 2 * 2 * alpha
    else:  # 5 collectives a step (with the loss normalizer's sum), each after an arrival round trip
        t = reduce_scatter_seconds(n, h, gbits * 1e9 / 8, alpha, a.add_ns, a.wire_efficiency, a.stack_factor)
        t += 5 * 2 * alpha
    print(
        f"N={n} H={h} {gbits:g} Gb/s ({a.kind}): predicted exchange {t * 1e3:.1f} ms per step (P = {params(h)} floats)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exchange", nargs=3, metavar=("N", "H", "GBITS"), help="predict one step's exchange on a link")
    ap.add_argument("--latency-us", type=float, default=30.0, help="one-way latency per message (--exchange)")
    ap.add_argument("--wire-efficiency", type=float, default=1448 / 1514, help="payload / line bytes (--exchange)")
    ap.add_argument(
        "--kind", choices=["reduce-scatter", "allgather"], default="reduce-scatter",
        help="the exchange to predict (--exchange): today's, or the former allgather")
    ap.add_argument("--stack-factor", type=float, default=1.0, help="MPI/TCP time per wire time (--exchange; the table: reduce-scatter column)")
    ap.add_argument("--compute-ms", type=float, help="measured ms per step, one machine, H = 512")
    ap.add_argument("--add-ns", type=float, default=1.0, help="ns per float addition of the tree (memory bound)")
    ap.add_argument("--loopback-gbs", type=float, default=None, help="measured allgather GB/s on this machine")
    ap.add_argument("--layers", type=int, default=1, help="stacked LSTM layers (the table)")
    ap.add_argument(
        "--overlap-fraction", type=float, default=None,
        help="measured fraction of the exchange hidden behind backpropagation (the table's overlap column)")
    a = ap.parse_args()
    global LAYERS
    LAYERS = a.layers
    if a.exchange:
        return exchange_mode(a)
    if a.compute_ms is None:
        ap.error("--compute-ms is required (or --exchange N H GBITS)")
    links = [("10 Gb/s", 10e9 / 8, 20e-6), ("100 Gb/s", 100e9 / 8, 5e-6)]
    print(
        "| H | P (MB) | link | N | compute ms | former allgather ms | eff. (none / overlap) "
        "| reduce-scatter + weights all-gather ms | eff. (none / overlap) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for h in (512, 1024):
        p = params(h)
        tc = a.compute_ms / 1e3 * flops_per_token(h) / flops_per_token(512, 1)
        for name, beta, alpha in links:
            for n in (8, 64, 256):
                ag = (n - 1) * alpha + (n - 1) * 4 * p / beta + (n - 1) * p * a.add_ns * 1e-9
                rs = reduce_scatter_seconds(n, h, beta, alpha, a.add_ns, stack_factor=a.stack_factor)

                def eff(c):
                    hidden = tc / max(tc, c) if a.overlap_fraction is None else tc / (tc + (1 - a.overlap_fraction) * c)
                    return f"{tc / (tc + c):.2f} / {hidden:.2f}"

                print(
                    f"| {h} | {4 * p / 1e6:.1f} | {name} | {n} | {tc * 1e3:.0f} | {ag * 1e3:.0f} | {eff(ag)} "
                    f"| {rs * 1e3:.0f} | {eff(rs)} |"
                )
    if a.loopback_gbs:
        print(f"\n(this machine's loopback allgather: {a.loopback_gbs:.2f} GB/s received per rank)")


if __name__ == "__main__":
    main()
