"""Runs the Keras model of docs/weights.md on inputs written by the Swift tests.

usage: KERAS_BACKEND=torch keras_forward.py WEIGHTS.weights.h5 INPUTS.h5 OUTPUTS.h5 [RESAVED.weights.h5]

Builds keras.Sequential([Input, (Embedding,) LSTM × L, Dense(O, activation=F)]) (each LSTM
wrapped in Bidirectional for a bidirectional model; LSTM k is hidden_size[k] wide when
hidden_size is a list) from the root
attributes of an `lstm export --format keras` file, loads it with model.load_weights(), runs
it on the dataset "inputs" of INPUTS.h5 and writes the predictions as "outputs" (float32).
With RESAVED, the loaded model is also saved by Keras itself with model.save_weights().
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402


def build(cfg):
    tokens = cfg["input_kind"] == "tokens"
    layers = [keras.Input(shape=(None,), dtype="int32") if tokens else keras.Input(shape=(None, cfg["input_size"]))]
    if tokens:
        layers.append(keras.layers.Embedding(cfg["vocab_size"], cfg["embedding_size"]))
    n = cfg["num_layers"]
    widths = cfg["hidden_size"] if isinstance(cfg["hidden_size"], list) else [cfg["hidden_size"]] * n
    for k in range(n):
        last = k == n - 1
        lstm = keras.layers.LSTM(widths[k], return_sequences=(not last) or cfg["head"] == "sequence")
        layers.append(keras.layers.Bidirectional(lstm) if cfg.get("bidirectional", False) else lstm)
    activation = {"identity": "linear"}.get(cfg["activation"], cfg["activation"])
    layers.append(keras.layers.Dense(cfg["output_size"], activation=activation))
    return keras.Sequential(layers)


def main(weights_path, inputs_path, outputs_path, resaved_path=None):
    with h5py.File(weights_path, "r") as f:
        cfg = json.loads(f.attrs["model_config"])
    model = build(cfg)
    model.load_weights(weights_path)
    with h5py.File(inputs_path, "r") as f:
        x = np.asarray(f["inputs"])
    y = keras.ops.convert_to_numpy(model(x, training=False)).astype(np.float32)
    with h5py.File(outputs_path, "w") as f:
        f["outputs"] = y
    if resaved_path:
        model.save_weights(resaved_path)


if __name__ == "__main__":
    main(*sys.argv[1:5])
