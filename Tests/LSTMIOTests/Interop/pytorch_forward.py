"""Runs the PyTorch model of docs/weights.md on inputs written by the Swift tests.

usage: pytorch_forward.py WEIGHTS.h5 INPUTS.h5 OUTPUTS.h5

WEIGHTS.h5 is an `lstm export --format pytorch` file: the model is built from its root
attributes, its datasets are loaded with h5py into state_dict (strict), and the model runs on
the dataset "inputs" of INPUTS.h5 (float32 [B, T, I] features or int32 [B, T] token ids).
The predictions after F ([B, T, O] or [B, O]) are written as "outputs" (float32).
"""
import json
import sys

import h5py
import numpy as np
import torch
from torch import nn


class LSTMModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.tokens = cfg["input_kind"] == "tokens"
        if self.tokens:
            self.embedding = nn.Embedding(cfg["vocab_size"], cfg["embedding_size"])
            input_size = cfg["embedding_size"]
        else:
            input_size = cfg["input_size"]
        self.directions = 2 if cfg.get("bidirectional", False) else 1
        widths = cfg["hidden_size"]
        if isinstance(widths, int):  # one width: one nn.LSTM, keys lstm.*
            self.lstm = nn.LSTM(input_size, widths, num_layers=cfg["num_layers"], batch_first=True,
                                bidirectional=self.directions == 2, dropout=cfg.get("dropout", 0.0))
            top = widths
        else:  # per-layer widths: one nn.LSTM per run of equal widths, keys lstm.{r}.* (docs/weights.md)
            runs = []
            for h in widths:
                if runs and runs[-1][0] == h:
                    runs[-1][1] += 1
                else:
                    runs.append([h, 1])
            modules, i = [], input_size
            for h, n in runs:
                modules.append(nn.LSTM(i, h, num_layers=n, batch_first=True, bidirectional=self.directions == 2))
                i = self.directions * h
            self.lstm = nn.ModuleList(modules)
            top = widths[-1]
        self.head = nn.Linear(self.directions * top, cfg["output_size"])
        self.head_kind = cfg["head"]
        self.activation = cfg["activation"]

    def forward(self, x):
        if self.tokens:
            x = self.embedding(x)
        if isinstance(self.lstm, nn.ModuleList):
            out = x
            for lstm in self.lstm:
                out, (h_n, _) = lstm(out)
        else:
            out, (h_n, _) = self.lstm(x)
        if self.head_kind == "last":
            # The top layer's final states: forward after the last step, reverse after the
            # first (h_n[-1] = out[:, -1] for one direction).
            out = torch.cat([h_n[d - self.directions] for d in range(self.directions)], dim=-1)
        z = self.head(out)
        if self.activation == "softmax":
            return torch.softmax(z, dim=-1)
        if self.activation == "sigmoid":
            return torch.sigmoid(z)
        if self.activation == "tanh":
            return torch.tanh(z)
        return z


def main(weights_path, inputs_path, outputs_path):
    with h5py.File(weights_path, "r") as f:
        cfg = json.loads(f.attrs["model_config"])
        # The separate attributes must agree with the JSON.
        for key in ("num_layers", "hidden_size", "head", "activation", "loss", "bidirectional"):
            value = f.attrs[key]
            value = value.decode() if isinstance(value, bytes) else value
            value = value.tolist() if isinstance(value, np.ndarray) else value
            assert value == cfg[key], (key, value, cfg[key])
        state = {name: torch.from_numpy(np.asarray(f[name])) for name in f.keys()}
    model = LSTMModel(cfg)
    model.load_state_dict(state, strict=True)
    model.eval()
    with h5py.File(inputs_path, "r") as f:
        x = np.asarray(f["inputs"])
    x = torch.from_numpy(x.astype(np.int64) if cfg["input_kind"] == "tokens" else x)
    with torch.no_grad():
        y = model(x).numpy().astype(np.float32)
    with h5py.File(outputs_path, "w") as f:
        f["outputs"] = y


if __name__ == "__main__":
    main(*sys.argv[1:4])
