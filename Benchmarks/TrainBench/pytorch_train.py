#!/usr/bin/env python3
"""PyTorch reference for lstm-train-bench: full training steps on the same HDF5 file as `lstm train`.

Sequences (train/inputs float32 [N, T, I], train/targets int32 [N, T]): nn.LSTM(batch_first=True)
+ nn.Linear + CrossEntropyLoss at every step + torch.optim.Adam, minibatches of B sequences in a
fresh random order every epoch (as lstm's loader), from a zero state.

Token stream (train/tokens int32 [L] and the root attribute `vocabulary`, as `lstm prepare text`
writes them): nn.Embedding + nn.LSTM with dropout + dropout + nn.Linear, torch-rnn style stateful
lanes exactly as lstm's loader cuts them (B lanes of lane = floor((L-1)/B/T)*T tokens, lane b starts
at b*lane; minibatch k holds steps [kT, (k+1)T) of every lane, targets shifted by one), with h and c
carried (detached) from one minibatch to the next and reset at every epoch.

The whole split is held in memory. Every step (batch gather, zero_grad, forward, loss, backward,
optimizer step) is timed; after --warmup untimed steps, --steps are timed. Prints one line per
timed step ("step <k> <seconds>"), then "steps <n>" and last "tokens_per_s <median B*T/seconds>".
Before them, one "kernels ..." line says what PyTorch ran: its CPU capability (the vector ISA of
its own kernels, torch.backends.cpu.get_cpu_capability()), its BLAS, the oneDNN version, and which
operator nn.LSTM's training step dispatched to, read from torch.profiler over the first warm-up
step (aten::mkldnn_rnn_layer: oneDNN's LSTM; otherwise PyTorch's own cell loop).
Needs torch and h5py. Peak RSS is measured by the driver (VmHWM of this process).
"""
import argparse
import re
import statistics
import time

import h5py
import numpy as np
import torch

p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("--data", required=True, help="HDF5 file in lstm's layout (docs/datasets.md)")
p.add_argument("--split", default="train")
p.add_argument("-B", "--batch", type=int, required=True)
p.add_argument("-T", "--seq-length", type=int, default=50, help="token streams: window length")
p.add_argument("-H", "--hidden", type=int, required=True)
p.add_argument("-L", "--layers", type=int, default=1)
p.add_argument("-O", "--output", type=int, help="classes (default: largest target + 1, or the vocabulary)")
p.add_argument("--embedding", type=int, default=64, help="token streams: embedding width")
p.add_argument("--dropout", type=float, default=0.0)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--warmup", type=int, default=5)
p.add_argument("--steps", type=int, default=40)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--seed", type=int, default=1)
a = p.parse_args()

torch.manual_seed(a.seed)
torch.set_num_threads(a.threads)

with h5py.File(a.data, "r") as f:
    g = f[a.split]
    stream = "tokens" in g
    if stream:
        tokens = torch.from_numpy(np.asarray(g["tokens"][...], dtype=np.int64))
        vocab = len(f.attrs["vocabulary"]) if "vocabulary" in f.attrs else int(tokens.max()) + 1
    else:
        inputs = torch.from_numpy(np.asarray(g["inputs"][...], dtype=np.float32))
        targets = torch.from_numpy(np.asarray(g["targets"][...], dtype=np.int64))

B = a.batch
if stream:
    T = a.seq_length
    lane = (tokens.numel() - 1) // B // T * T
    if lane == 0:
        raise SystemExit(f"{a.data}: {tokens.numel()} tokens are too few for {B} lanes of {T} steps")
    starts = torch.arange(B) * lane
    lanes_x = torch.stack([tokens[s:s + lane] for s in starts.tolist()])          # [B, lane]
    lanes_y = torch.stack([tokens[s + 1:s + 1 + lane] for s in starts.tolist()])  # next tokens
    batches = lane // T
    O = a.output or vocab
    width = a.embedding
else:
    N, T, width = inputs.shape
    batches = (N + B - 1) // B
    O = a.output or int(targets.max()) + 1


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, a.embedding) if stream else None
        self.lstm = torch.nn.LSTM(width, a.hidden, num_layers=a.layers, batch_first=True,
                                  dropout=a.dropout if a.layers > 1 else 0.0)
        self.drop = torch.nn.Dropout(a.dropout)  # lstm's dropout also feeds the output layer
        self.head = torch.nn.Linear(a.hidden, O)

    def forward(self, x, state=None):
        if self.embed is not None:
            x = self.embed(x)
        out, state = self.lstm(x, state)
        return self.head(self.drop(out)), state


model = Model()
model.train()
opt = torch.optim.Adam(model.parameters(), lr=a.lr)
loss_fn = torch.nn.CrossEntropyLoss()
state = None
position = batches  # start a new epoch at the first step
order = None


def step():
    global state, position, order
    if position == batches:  # a new epoch: reshuffle (sequences) or reset the carried state (lanes)
        position = 0
        state = None
        order = None if stream else torch.randperm(N)
    k = position
    position += 1
    if stream:
        x = lanes_x[:, k * T:(k + 1) * T]
        y = lanes_y[:, k * T:(k + 1) * T]
    else:
        rows = order[k * B:(k + 1) * B].sort().values
        x, y = inputs[rows], targets[rows]
    opt.zero_grad(set_to_none=True)
    logits, new_state = model(x, state)
    loss = loss_fn(logits.reshape(-1, O), y.reshape(-1))
    loss.backward()
    opt.step()
    if stream:
        state = tuple(s.detach() for s in new_state)
    return loss.item(), y.numel()


def kernels():
    """One line: ISA, BLAS, oneDNN, and the LSTM operator seen while profiling one training step."""
    config = torch.__config__.show()
    found = re.search(r"BLAS_INFO=([^,\s]+)", config)
    blas = found.group(1) if found else "?"
    found = re.search(r"Math Kernel Library Version ([\w.-]+)", config)
    if found:
        blas += " " + found.group(1)
    found = re.search(r"(?:MKL-DNN|oneDNN) (v[\d.]+)", config)
    onednn = found.group(1) if found else "none"
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    ops = {e.key for e in prof.key_averages()}
    if any("mkldnn_rnn" in op for op in ops):
        path = "oneDNN (aten::mkldnn_rnn_layer)"
    elif "aten::_thnn_fused_lstm_cell" in ops or "aten::lstm_cell" in ops:
        path = "native cell loop"
    else:
        path = "native (" + ",".join(sorted(op for op in ops if "lstm" in op.lower())) + ")"
    print(f"kernels capability={torch.backends.cpu.get_cpu_capability()} | blas={blas} | onednn={onednn}"
          + f" | mkldnn_enabled={torch.backends.mkldnn.enabled} | lstm={path}", flush=True)


if a.warmup > 0:
    kernels()  # profiles the first warm-up step
for _ in range(a.warmup - 1):
    step()
rates = []
for i in range(a.steps):
    t0 = time.perf_counter()
    _, n = step()
    dt = time.perf_counter() - t0
    rates.append(n / dt)
    print(f"step {i + 1} {dt:.6f}")
print(f"torch {torch.__version__} threads {a.threads}: B={B} T={T} H={a.hidden} L={a.layers} O={O}"
      + (f" V={vocab} E={a.embedding}" if stream else f" I={width}") + f" dropout {a.dropout}")
print(f"steps {len(rates)}")
print(f"tokens_per_s {statistics.median(rates)}")
