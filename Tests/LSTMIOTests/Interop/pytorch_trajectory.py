"""Writes the training-trajectory fixture that TrajectoryFixtureTests.swift checks without Python.

usage (from anywhere):
    python3 pytorch_trajectory.py

Needs torch and h5py. A small nn.LSTM (2 layers, I=3, H=4) with an nn.Linear head (O=2, one
prediction per step, identity output, MSE loss: the mean over all target elements of the
minibatch, as the project normalises every loss) is built with a fixed seed. Its initial
state_dict, rounded to float32, is written in the project's PyTorch import layout (one HDF5
dataset per state_dict key, separate bias_ih and bias_hh). The model then trains K full-batch
steps on a tiny dataset, in float64 from those float32 values, with torch.optim.SGD(lr=0.1) and,
from the same start, with torch.optim.Adam(lr=0.01) (default betas and eps). Files written next
to this script, in Fixtures/:

    trajectory.initial.pt.h5   the initial weights (float32), keys lstm.* and head.*
    trajectory.data.h5         "inputs" float32 [B, T, I], "targets" float32 [B, T, O]
    trajectory.sgd.pt.h5       the weights after K SGD steps (float64), same keys
    trajectory.adam.pt.h5      the weights after K Adam steps (float64), same keys

Root attributes of the last two: "steps" (K) and "lr".
"""
import os

import h5py
import numpy as np
import torch
from torch import nn

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Fixtures")
I, H, LAYERS, O = 3, 4, 2, 2
B, T = 4, 5
K = 8
SGD_LR, ADAM_LR = 0.1, 0.01


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(I, H, num_layers=LAYERS, batch_first=True)
        self.head = nn.Linear(H, O)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out)


def write(path, state, dtype, **attrs):
    with h5py.File(path, "w") as f:
        for key, value in state.items():
            f[key] = value.detach().numpy().astype(dtype)
        for k, v in attrs.items():
            f.attrs[k] = v


def train(initial, x, y, make_optimizer):
    model = Model().double()
    model.load_state_dict({k: v.double() for k, v in initial.items()})
    opt = make_optimizer(model.parameters())
    loss_fn = nn.MSELoss()  # reduction "mean": over all B·T·O target elements
    for _ in range(K):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    return model.state_dict()


def main():
    torch.manual_seed(7)
    model = Model()  # PyTorch's default init: every LSTM weight and bias uniform(-1/sqrt(H), 1/sqrt(H))
    initial = {k: v.float().clone() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(11)
    x = rng.uniform(-1, 1, size=(B, T, I)).astype(np.float32)
    y = rng.uniform(-1, 1, size=(B, T, O)).astype(np.float32)
    write(os.path.join(HERE, "trajectory.initial.pt.h5"), initial, np.float32)
    with h5py.File(os.path.join(HERE, "trajectory.data.h5"), "w") as f:
        f["inputs"] = x
        f["targets"] = y
    xd, yd = torch.from_numpy(x).double(), torch.from_numpy(y).double()
    sgd = train(initial, xd, yd, lambda p: torch.optim.SGD(p, lr=SGD_LR))
    write(os.path.join(HERE, "trajectory.sgd.pt.h5"), sgd, np.float64, steps=K, lr=SGD_LR)
    adam = train(initial, xd, yd, lambda p: torch.optim.Adam(p, lr=ADAM_LR))
    write(os.path.join(HERE, "trajectory.adam.pt.h5"), adam, np.float64, steps=K, lr=ADAM_LR)


if __name__ == "__main__":
    main()
