#!/usr/bin/env python3
"""PyTorch reference for lstm-bench: forward+backward of nn.LSTM + nn.Linear + cross-entropy.

Same shapes and FLOP definition as the Swift benchmark; prints 'tokens_per_s <value>' last.
Needs `pip install torch`. Used by Benchmarks/LSTMBench when torch imports.
"""
import argparse
import statistics
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("-B", type=int, default=64)
p.add_argument("-T", type=int, default=100)
p.add_argument("-I", type=int, default=128)
p.add_argument("-H", type=int, default=512)
p.add_argument("-O", type=int, default=128)
p.add_argument("-L", type=int, default=1)
p.add_argument("--reps", type=int, default=5)
p.add_argument("--threads", type=int, default=1)
a = p.parse_args()

torch.manual_seed(0)
torch.set_num_threads(a.threads)
lstm = torch.nn.LSTM(a.I, a.H, num_layers=a.L, batch_first=True)
head = torch.nn.Linear(a.H, a.O)
x = torch.randn(a.B, a.T, a.I)
y = torch.randint(0, a.O, (a.B * a.T,))
loss_fn = torch.nn.CrossEntropyLoss()


def step():
    lstm.zero_grad()
    head.zero_grad()
    out, _ = lstm(x)
    loss = loss_fn(head(out).reshape(-1, a.O), y)
    loss.backward()
    return loss.item()


step()
times = []
for _ in range(a.reps):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
t = statistics.median(times)
print(f"torch {torch.__version__} threads {a.threads}: {t:.3f} s/minibatch")
print(f"tokens_per_s {a.B * a.T / t}")
