"""Writes the fixtures of the file formats PyTorch and Keras users have (issue 20), with the
frameworks themselves:

  compiled.weights.h5   Keras 3 save_weights() of a *compiled and fitted* model (has /optimizer)
  compiled.keras        the same model saved as a .keras archive (zip: config.json, model.weights.h5)
  compiled.keras.io.h5  inputs [4, 5, 3] and the model's outputs [4, 2] after fitting
  fc_head.safetensors   a PyTorch state_dict (nn.LSTM "lstm", head nn.Linear "fc") via safetensors
  fc_head.pt            the same state_dict from torch.save (zip of pickles: refused by lstm)
  fc_head_legacy.pt     the same from torch.save(..., _use_new_zipfile_serialization=False)
  fc_head.pt.io.h5      inputs [4, 5, 3] and the PyTorch model's outputs [4, 5, 3] (softmax)

Run from this directory: KERAS_BACKEND=torch python3 make_format_fixtures.py
(torch 2.15, keras 3.15, safetensors 0.8, h5py 3.16 made the checked-in files).
"""
import os
os.environ.setdefault("KERAS_BACKEND", "torch")
import h5py, numpy as np, torch, keras
from torch import nn
from safetensors.torch import save_file

rng = np.random.default_rng(7)
x = rng.uniform(-1, 1, (4, 5, 3)).astype(np.float32)

# Keras: compiled and fitted, so save_weights writes the optimizer's variables too.
keras.utils.set_random_seed(7)
model = keras.Sequential([keras.Input(shape=(5, 3)), keras.layers.LSTM(4), keras.layers.Dense(2, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x, np.array([0, 1, 1, 0]), epochs=2, verbose=0)
model.save_weights("compiled.weights.h5")
model.save("compiled.keras")
with h5py.File("compiled.keras.io.h5", "w") as f:
    f["inputs"] = x
    f["outputs"] = np.asarray(model.predict(x, verbose=0), dtype=np.float32)

# PyTorch: the head is called fc, the most common name.
torch.manual_seed(7)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 4, num_layers=1, batch_first=True)
        self.fc = nn.Linear(4, 3)
    def forward(self, x):
        return torch.softmax(self.fc(self.lstm(x)[0]), -1)
net = Net()
state = net.state_dict()
save_file({k: v.contiguous() for k, v in state.items()}, "fc_head.safetensors")
torch.save(state, "fc_head.pt")
torch.save(state, "fc_head_legacy.pt", _use_new_zipfile_serialization=False)
with torch.no_grad():
    y = net(torch.from_numpy(x)).numpy()
with h5py.File("fc_head.pt.io.h5", "w") as f:
    f["inputs"] = x
    f["outputs"] = y.astype(np.float32)
