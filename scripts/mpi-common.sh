# Sourced (not run) by the multi-process scripts: test-mpi.sh, mpi-netns-cluster.sh, slurm-local.sh,
# bench-mpi.sh and bench-mpi-overlap.sh. The Python they compare runs with, and the config and data
# they share, each written once here.

# Debian's own Python with python3-h5py (.ci/run installs it), whatever python3 comes first on PATH;
# PYTHON=... picks another interpreter that has h5py and numpy.
python=${PYTHON:-/usr/bin/python3}
"$python" -c 'import h5py, numpy' 2>/dev/null || {
    echo "$(basename "$0"): $python has no h5py: apt-get install python3-h5py python3-numpy (or set PYTHON)" >&2
    exit 1
}

# seq_config DIR: the `seq` config, its data generated into DIR/waves.h5. Sequences of variable
# length (waves), Adam, dropout between two layers, clipping, 100 training sequences in minibatches
# of 12 (the last has 4), S = 5 shards: not divisible by 2 or 4, and with 4 processes rank 0's
# shard gets no row of the last minibatch; the exchange overlapped with backpropagation.
seq_config() {
    cat <<YAML
model: {hidden_size: 12, num_layers: 2, dropout: 0.3, head: last}
loss: cross_entropy
data:
  file: $1/waves.h5
  generate: {task: waves, steps: 16, min_length: 4, max_length: 16, train: 100, val: 24, test: 8, seed: 3}
  batch_size: 12
optimizer: {name: adam, lr: 0.01}
training: {epochs: 3, clip_norm: 1.0}
validation: {every: 4}
checkpoint: {every: 4, keep: 100}
logging: {every: 2, progress: plain}
parallel: {shards: 5, overlap: true}
seed: 7
YAML
}

# bench_data FILE: the bench shape's data (bench-mpi.sh): 640 sequences of T = 100 steps of
# I = 128 features, a class of 128 at every step.
bench_data() {
    "$python" - "$1" <<'PY'
import sys
import h5py, numpy as np
rng = np.random.default_rng(1)
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["class_names"] = [f"c{i}" for i in range(128)]
    g = f.create_group("train")
    g["inputs"] = rng.standard_normal((640, 100, 128), dtype=np.float32)
    g["targets"] = rng.integers(0, 128, (640, 100), dtype=np.int32)
PY
}

# bench_config DIR H LAYERS STEPS PARALLEL: the bench shape's config on DIR/bench.h5 (I = 128,
# O = 128, B = 64, T = 100, Adam), hidden size H, LAYERS layers, STEPS steps; PARALLEL is the inside
# of its parallel section (e.g. "shards: 4, workers: 1").
bench_config() {
    cat <<YAML
model: {hidden_size: $2, num_layers: $3}
loss: cross_entropy
data: {file: $1/bench.h5, batch_size: 64, val_split: none}
optimizer: {name: adam, lr: 0.001}
training: {steps: $4}
checkpoint: {every: 100000, keep: 1}
logging: {every: 1, progress: none}
parallel: {$5}
seed: 1
YAML
}
