"""Runs an ONNX model written by `lstm export` in onnxruntime.

usage: python3 onnx_forward.py MODEL.onnx INPUTS.h5 OUTPUTS.h5
INPUTS.h5 holds `inputs` ([N, T, I] float, or [N, T] token ids) and optionally `lengths` [N]
(default: every sequence has all T steps); OUTPUTS.h5 gets `outputs`, the model's y = F(z).
"""
import sys
import h5py, numpy as np, onnxruntime as ort

model, inputs_path, outputs_path = sys.argv[1:4]
with h5py.File(inputs_path) as f:
    x = np.asarray(f["inputs"])
    lengths = np.asarray(f["lengths"]) if "lengths" in f else np.full(x.shape[0], x.shape[1])
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
feed = {"inputs": x.astype(np.int64) if x.dtype.kind in "iu" else x.astype(np.float32),
        "lengths": lengths.astype(np.int32)}
(y,) = session.run(["outputs"], feed)
with h5py.File(outputs_path, "w") as f:
    f["outputs"] = y.astype(np.float32)
