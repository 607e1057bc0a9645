"""Writes the PyTorch and Keras fixtures that InteropFixtureTests.swift checks without Python.

usage (from this directory, or anywhere):
    KERAS_BACKEND=torch python3 make_fixtures.py

Needs torch, keras 3 and h5py. Running it again rewrites every fixture (seeded, so the weights
come out the same; the recorded outputs may differ from older ones in the last float32 bits
when torch or keras change their kernels). For each model NAME it writes, next to itself:

    NAME.pt.h5 / NAME.weights.h5   the weights as the framework holds them: PyTorch's
                                   state_dict() written one dataset per key with h5py (separate
                                   non-zero bias_ih and bias_hh), or Keras' own save_weights();
                                   no root attributes, so import has to infer the sizes
    NAME.io.h5                     "inputs" float32 [B, T, I] and "outputs" float32 (after F,
                                   [B, T, O] for a sequence head, [B, O] for a last head), the
                                   framework's own forward pass in float32

Models (inputs are features; every weight and bias is drawn uniform in [-0.8, 0.8] so that
gates saturate differently and a swapped gate block changes the outputs):
    one_layer_sequence        1 layer,  I=3, H=4, O=3, head sequence, softmax (cross_entropy)
    two_layer_bidir_last      2 layers, bidirectional, I=3, H=3, O=2, head last, identity (mse)

Per-layer widths (weights uniform in [-0.5, 0.5], inputs [2, 12, 3]):
    widths_16_8               Keras: Sequential([Input((12, 3)), LSTM(16, return_sequences=True),
                              LSTM(8), Dense(4, activation="softmax")]) saved with save_weights
                              (widths_16_8.weights.h5, widths_16_8.keras.io.h5); PyTorch: the
                              docs/weights.md layout, nn.ModuleList([nn.LSTM(3, 16), nn.LSTM(16, 8)])
                              as "lstm" plus nn.Linear(8, 4) as "head", last step, softmax
                              (widths_16_8.pt.h5, widths_16_8.pt.io.h5)

`python3 make_fixtures.py widths_16_8` rewrites only the named fixtures.
"""
import sys
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH, STEPS = 2, 5
MODELS = {
    "one_layer_sequence": dict(input_size=3, hidden=4, layers=1, outputs=3, bidirectional=False,
                               head="sequence", activation="softmax"),
    "two_layer_bidir_last": dict(input_size=3, hidden=3, layers=2, outputs=2, bidirectional=True,
                                 head="last", activation="identity"),
}


def inputs(cfg, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, size=(BATCH, STEPS, cfg["input_size"])).astype(np.float32)


class TorchModel(nn.Module):
    """nn.LSTM (batch_first) + nn.Linear head, keys lstm.* and head.* as the project expects."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.directions = 2 if cfg["bidirectional"] else 1
        self.lstm = nn.LSTM(cfg["input_size"], cfg["hidden"], num_layers=cfg["layers"], batch_first=True,
                            bidirectional=cfg["bidirectional"])
        self.head = nn.Linear(self.directions * cfg["hidden"], cfg["outputs"])

    def forward(self, x):
        out, (h_n, _) = self.lstm(x)
        if self.cfg["head"] == "last":  # forward direction after the last step, reverse after the first
            out = torch.cat([h_n[d - self.directions] for d in range(self.directions)], dim=-1)
        z = self.head(out)
        return torch.softmax(z, dim=-1) if self.cfg["activation"] == "softmax" else z


def write_pytorch(name, cfg, x):
    torch.manual_seed(1)
    model = TorchModel(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.8, 0.8)
    model.eval()
    with torch.no_grad():
        y = model(torch.from_numpy(x)).numpy().astype(np.float32)
    with h5py.File(os.path.join(HERE, name + ".pt.h5"), "w") as f:
        for key, value in model.state_dict().items():
            f[key] = value.numpy()
    write_io(name + ".pt", x, y)


def write_keras(name, cfg, x):
    keras.backend.clear_session()  # layer names as in a fresh session ("lstm", "dense", not "dense_1")
    keras.utils.set_random_seed(2)
    n = cfg["layers"]
    layers = [keras.Input(shape=(None, cfg["input_size"]))]
    for k in range(n):
        lstm = keras.layers.LSTM(cfg["hidden"], return_sequences=k < n - 1 or cfg["head"] == "sequence")
        layers.append(keras.layers.Bidirectional(lstm) if cfg["bidirectional"] else lstm)
    layers.append(keras.layers.Dense(cfg["outputs"], activation={"identity": "linear"}.get(cfg["activation"],
                                                                                          cfg["activation"])))
    model = keras.Sequential(layers)
    rng = np.random.default_rng(3)
    for w in model.weights:
        w.assign(rng.uniform(-0.8, 0.8, size=tuple(w.shape)).astype(np.float32))
    y = keras.ops.convert_to_numpy(model(x, training=False)).astype(np.float32)
    model.save_weights(os.path.join(HERE, name + ".weights.h5"))
    write_io(name + ".keras", x, y)


def write_io(stem, x, y):
    with h5py.File(os.path.join(HERE, stem + ".io.h5"), "w") as f:
        f["inputs"] = x
        f["outputs"] = y


class TorchWidths(nn.Module):
    """One nn.LSTM per run of equal widths (docs/weights.md): state_dict keys lstm.{r}.*, head.*."""

    def __init__(self, input_size, widths, outputs):
        super().__init__()
        runs, sizes = [], [input_size] + widths
        for k, h in enumerate(widths):
            if runs and runs[-1][1] == h:
                runs[-1][2] += 1
            else:
                runs.append([sizes[k], h, 1])
        self.lstm = nn.ModuleList([nn.LSTM(i, h, num_layers=n, batch_first=True) for i, h, n in runs])
        self.head = nn.Linear(widths[-1], outputs)

    def forward(self, x):
        for lstm in self.lstm:
            x, _ = lstm(x)
        return torch.softmax(self.head(x[:, -1]), dim=-1)  # head "last": the final step


def write_widths(name="widths_16_8"):
    x = np.random.default_rng(20).uniform(-1, 1, size=(BATCH, 12, 3)).astype(np.float32)
    keras.backend.clear_session()
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((12, 3)), keras.layers.LSTM(16, return_sequences=True),
                              keras.layers.LSTM(8), keras.layers.Dense(4, activation="softmax")])
    rng = np.random.default_rng(5)
    for w in model.weights:
        w.assign(rng.uniform(-0.5, 0.5, size=tuple(w.shape)).astype(np.float32))
    y = keras.ops.convert_to_numpy(model(x, training=False)).astype(np.float32)
    model.save_weights(os.path.join(HERE, name + ".weights.h5"))
    write_io(name + ".keras", x, y)

    torch.manual_seed(6)
    tm = TorchWidths(3, [16, 8], 4)
    with torch.no_grad():
        for p in tm.parameters():
            p.uniform_(-0.5, 0.5)
        y = tm(torch.from_numpy(x)).numpy().astype(np.float32)
    with h5py.File(os.path.join(HERE, name + ".pt.h5"), "w") as f:
        for key, value in tm.state_dict().items():
            f[key] = value.numpy()
    write_io(name + ".pt", x, y)


def main(names):
    for i, (name, cfg) in enumerate(MODELS.items()):
        if names and name not in names:
            continue
        x = inputs(cfg, seed=10 + i)
        write_pytorch(name, cfg, x)
        write_keras(name, cfg, x)
    if not names or "widths_16_8" in names:
        write_widths()


if __name__ == "__main__":
    main(sys.argv[1:])
