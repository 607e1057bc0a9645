#!/usr/bin/env bash
# Multi-process training gives one process's bits (docs/cluster.md).
# Builds the MPI `lstm` (package trait MPI, its own build directory), trains the same configs alone
# and under mpirun with 1, 2, 3 and 4 processes (on any machine: --oversubscribe; each rank keeps
# only its slice of Adam's state, ExactReduction.swift), and requires every
# checkpoint and metrics record to be bitwise the same (scripts/compare-runs.py). Then: resuming
# under mpirun (also with another process count, 4 → 3 with Adam) equals the uninterrupted run; SIGTERM under mpirun
# saves one checkpoint that resumes exactly; a killed rank ends the job within 10 s, a stopped one
# (SIGSTOP) within the collective timeout; bad data on one
# rank ends it with a message naming the rank. A two-file sharded dataset under -np 2 equals one
# process on the concatenated file. Gradient accumulation (training.accumulate) under -np 2 and 3
# equals one process without it, and resumes with another accumulate and process count.
#   scripts/test-mpi.sh            # build + all checks (a few minutes)
#   LSTM=path/to/lstm scripts/test-mpi.sh   # skip the build
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source "$root/scripts/mpi-common.sh"
if [[ -z "${LSTM:-}" ]]; then
    swift build --traits MPI --build-path .build-mpi --product lstm
    LSTM=$root/.build-mpi/debug/lstm
fi
# Open MPI's default odls_base_sigkill_timeout (1 s): after a failure or a signal, mpirun waits that
# long before SIGTERM and again before SIGKILL; a larger value delays the end of a failed job.
mpirun=(mpirun --allow-run-as-root --oversubscribe)
work=$(mktemp -d /tmp/lstm-mpi-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
running() { # PID still running (not a zombie waiting for `wait`)
    local s
    s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ $s != Z* ]]
}
same() { "$python" "$root/scripts/compare-runs.py" "$1" "$2" || fail "$1 and $2 differ"; }
train() { # train NAME CONFIG [mpirun -np N]
    local name=$1 config=$2
    shift 2
    "$@" "$LSTM" train "$config" --set checkpoint.dir="$work/$name" >"$work/$name.log" 2>&1 \
        || { cat "$work/$name.log"; fail "training $name"; }
}

seq_config "$work" >seq.yaml  # (mpi-common.sh)
# Generate once, so every run reads the same file.
"$LSTM" train seq.yaml --dry-run --set checkpoint.dir="$work/dry" >/dev/null

# A stateful character stream (h, c carried per lane; each rank owns its lanes' state), dropout.
head -c 2500 /usr/share/common-licenses/GPL-3 >corpus.txt
"$LSTM" prepare text corpus.txt --out "$work/text.h5" >/dev/null
cat >stream.yaml <<YAML
model: {embedding_size: 8, hidden_size: 16, num_layers: 2, dropout: 0.3}
loss: cross_entropy
data: {file: $work/text.h5, batch_size: 8, seq_length: 10, stream_mode: stateful}
optimizer: {name: adam, lr: 0.01}
training: {epochs: 3}
validation: {every: 10}
checkpoint: {every: 5, keep: 100}
logging: {every: 5, progress: plain}
parallel: {shards: 4, overlap: true}
seed: 5
YAML

for config in seq stream; do
    train "$config-alone" $config.yaml
    for n in 1 2 3 4; do
        train "$config-np$n" $config.yaml "${mpirun[@]}" -np $n
        same "$config-alone" "$config-np$n"
    done
    grep -q "in each of 4 processes" "$config-np4.log" || fail "$config-np4 did not train on 4 processes"
done
# The exchange overlaps backpropagation (parallel.overlap: true in seq.yaml and stream.yaml, so in
# every run above and below made from them): one bucket per layer and the head posted while the
# layers below still ran. Off, it is one exchange after backward: the same bits. A deeper stack (3 bidirectional layers, 4 buckets)
# with overlap on and off, -np 2, 3, 4, against one process.
grep -q "gradient exchange overlapped with backpropagation (3 buckets)" seq-np2.log || fail "seq-np2 did not overlap"
sed -e 's/num_layers: 2/num_layers: 3, bidirectional: true/' seq.yaml >deep.yaml
grep -q "bidirectional" deep.yaml || fail "deep.yaml was not made from seq.yaml"
sed 's/overlap: true}/overlap: false}/' seq.yaml >sequential.yaml
sed 's/overlap: true}/overlap: false}/' deep.yaml >deep-sequential.yaml
grep -q "overlap: false" sequential.yaml && grep -q "overlap: false" deep-sequential.yaml || fail "no overlap: false"
for n in 2 4; do
    train "seq-np$n-sequential" sequential.yaml "${mpirun[@]}" -np $n
    grep -q "overlapped" "seq-np$n-sequential.log" && fail "seq-np$n-sequential overlapped with parallel.overlap false"
    "$python" "$root/scripts/compare-runs.py" --ignore-attr config_text seq-alone "seq-np$n-sequential" \
        || fail "seq-np$n-sequential differs from seq-alone"
done
train deep-alone deep.yaml
for n in 2 3 4; do
    train "deep-np$n" deep.yaml "${mpirun[@]}" -np $n
    grep -q "overlapped with backpropagation (4 buckets)" "deep-np$n.log" || fail "deep-np$n did not overlap"
    same deep-alone "deep-np$n"
done
train deep-np3-sequential deep-sequential.yaml "${mpirun[@]}" -np 3
"$python" "$root/scripts/compare-runs.py" --ignore-attr config_text deep-alone deep-np3-sequential \
    || fail "deep-np3-sequential differs from deep-alone"
# Checkpoints are written by rank 0 only: one set of files, and no rank's output twice.
[[ $(grep -c "^done:" seq-np4.log) == 1 ]] || fail "the summary was printed by more than rank 0"

# Gradient accumulation (training.accumulate, docs/config.md): 2 micro-batches of 6 sequences in 3
# shards each (6 shards in all) under -np 2 (3 shards per rank, in 2 rounds) and -np 3 (2 per rank, in
# 2 rounds of 1) give the bits of one process training minibatches of 12 in 6 shards. Validation is
# off: it reads micro-batches, so its val_loss may differ in the last bits from minibatches of 12.
sed -e 's/parallel: {shards: 5, overlap: true}/parallel: {shards: 6, overlap: true}/' -e 's/^  batch_size: 12$/  batch_size: 12\n  val_split: none/' \
    seq.yaml >acc-base.yaml
sed -e 's/parallel: {shards: 6, overlap: true}/parallel: {shards: 3, overlap: true}/' -e 's/batch_size: 12/batch_size: 6/' \
    -e 's/training: {epochs: 3, clip_norm: 1.0}/training: {epochs: 3, clip_norm: 1.0, accumulate: 2}/' acc-base.yaml >acc.yaml
grep -q "accumulate: 2" acc.yaml && grep -q "val_split: none" acc.yaml || fail "acc.yaml was not made from seq.yaml"
train acc-base acc-base.yaml
for n in 2 3; do
    train "acc-np$n" acc.yaml "${mpirun[@]}" -np $n
    grep -q "6 shard(s) on .* in 2 rounds of 6 sequences (minibatch 12) in each of $n processes" "acc-np$n.log" \
        || fail "acc-np$n did not accumulate 2 rounds on $n processes"
    "$python" "$root/scripts/compare-runs.py" --ignore-attr config_text acc-base "acc-np$n" \
        || fail "acc-np$n differs from acc-base"
done
# … and resumed from -np 2 with 2 micro-batches of 6 to one process with 6 micro-batches of 2 (1 shard each).
cut=$work/acc-np2-resumed-np1
cp -r "$work/acc-np2" "$cut"
rm -f "$cut/latest.h5" "$cut/best.h5"
for f in "$cut"/step-*.h5; do
    s=$(basename "$f" .h5)
    s=$((10#${s#step-}))
    ((s > 12)) && rm "$f"
done
"$LSTM" resume "$cut" --accumulate 6 >"$cut.log" 2>&1 || { cat "$cut.log"; fail "resuming $cut with --accumulate 6"; }
grep -q "in 6 rounds of 2 sequences (minibatch 12)" "$cut.log" || fail "$cut did not resume in 6 rounds"
"$python" "$root/scripts/compare-runs.py" --skip best.h5 --ignore-attr config_text "$work/acc-base" "$cut" \
    || fail "$cut differs from acc-base"

# A sharded dataset (data.file a list of two files, docs/datasets.md) under -np 2 gives the bits of
# one process on the concatenated file: every split of waves.h5 cut at row 37 % of its N
# (minibatches of 12 straddle the files). Only the stored config (its data.file) differs.
"$python" - "$work" <<'PY'
import sys, h5py
work = sys.argv[1]
with h5py.File(f"{work}/waves.h5", "r") as src:
    for k in range(2):
        with h5py.File(f"{work}/waves-part{k}.h5", "w") as dst:
            for name, value in src.attrs.items():
                if name != "checksums":  # the whole file's list; a part has other content
                    dst.attrs[name] = value
            for split in src:
                g = dst.create_group(split)
                for name, d in src[split].items():
                    cut = len(d) * 37 // 100
                    g.create_dataset(name, data=d[:cut] if k == 0 else d[cut:])
PY
grep -v "generate:" seq.yaml | sed "s|file: .*|file: [$work/waves-part0.h5, $work/waves-part1.h5]|" >shards.yaml
train shards-np2 shards.yaml "${mpirun[@]}" -np 2
"$python" "$root/scripts/compare-runs.py" --ignore-attr config_text seq-alone shards-np2 || fail "shards-np2 differs from seq-alone"

# Resume under mpirun, with the same and with another process count: cut a finished run back to
# an early checkpoint and let it finish again.
# seq-np4 → 3: Adam's state was sharded 4 ways when saved (gathered whole into the checkpoint) and
# is sliced 3 ways on resume.
for case in "seq-np2 4 12" "seq-np4 3 12" "stream-np4 2 10"; do
    read -r base n step <<<"$case"
    cut=$work/$base-resumed-np$n
    cp -r "$work/$base" "$cut"
    rm -f "$cut/latest.h5" "$cut/best.h5"
    for f in "$cut"/step-*.h5; do
        s=$(basename "$f" .h5)
        s=$((10#${s#step-}))
        ((s > step)) && rm "$f"
    done
    "${mpirun[@]}" -np "$n" "$LSTM" resume "$cut" >"$cut.log" 2>&1 || { cat "$cut.log"; fail "resuming $cut"; }
    grep -q "resuming .* at step $step" "$cut.log" || fail "$cut did not resume at step $step"
    # best.h5 was removed before resuming (the best may be older than the cut): compare the rest.
    "$python" "$root/scripts/compare-runs.py" --skip best.h5 "$work/$base" "$cut" || fail "$cut differs from $base"
done

# Ctrl-C / SIGTERM under mpirun: mpirun passes SIGTERM to every rank, the ranks agree on the step
# to stop at, rank 0 saves one checkpoint, all exit cleanly; resuming gives the uninterrupted bits.
sed -e 's/epochs: 3,/epochs: 40,/' -e 's/every: 4}/every: 50}/' -e 's/every: 4, keep/every: 50, keep/' seq.yaml >long.yaml
train long-alone long.yaml
"${mpirun[@]}" -np 2 "$LSTM" train long.yaml --set checkpoint.dir="$work/long-np2" >long-np2.log 2>&1 &
job=$!
for _ in $(seq 600); do [[ -e long-np2/step-00000050.h5 ]] && break; sleep 0.1; done
kill -TERM $job
status=0
wait $job || status=$?
# (Every rank exits 75, "interrupted, resumable"; mpirun reports a non-zero status of its own
# after it was told to end the job. The ranks must end cleanly.)
grep -q "stopped on request" long-np2.log || { cat long-np2.log; fail "SIGTERM under mpirun did not stop with a checkpoint (status $status)"; }
grep -q "interrupted: the run did not reach its end (exit status 75)" long-np2.log || { cat long-np2.log; fail "SIGTERM under mpirun: no exit status 75 announced"; }
[[ $status != 0 ]] || fail "SIGTERM under mpirun: status 0 for a run that did not finish"
! grep -q "exited on signal\|MPI_ABORT" long-np2.log || { cat long-np2.log; fail "a rank did not end cleanly on SIGTERM"; }
stopped=$(cd long-np2 && ls step-*.h5 | grep -v -x -F -f <(cd "$work/long-alone" && ls step-*.h5) || true)
"${mpirun[@]}" -np 2 "$LSTM" resume "$work/long-np2" >long-resume.log 2>&1 || { cat long-resume.log; fail "resume after SIGTERM"; }
"$python" "$root/scripts/compare-runs.py" ${stopped:+--skip "$stopped"} long-alone long-np2 || fail "SIGTERM + resume differs"

# A rank killed (SIGKILL) mid-run: Open MPI's runtime ends the whole job within 10 s, saying which rank.
"${mpirun[@]}" -np 2 "$LSTM" train long.yaml --set checkpoint.dir="$work/killed" >killed.log 2>&1 &
job=$!
for _ in $(seq 600); do [[ -e killed/step-00000050.h5 ]] && break; sleep 0.1; done
victim=$(pgrep -P $job | tail -1)
kill -KILL "$victim"
t0=$(date +%s.%N)
for _ in $(seq 150); do running $job || break; sleep 0.1; done
t1=$(date +%s.%N)
if running $job; then
    fail "a killed rank left the job running after 15 s"
    kill -KILL $job
fi
wait $job || true
ended=$("$python" -c "print(f'{$t1 - $t0:.1f}')")
echo "killed rank $victim: the job ended after $ended s"
"$python" -c "import sys; sys.exit(0 if $t1 - $t0 <= 10 else 1)" || fail "the job took $ended s (> 10 s) to end after a rank was killed"
grep -q "exited on signal 9" killed.log || { cat killed.log; fail "no message naming the killed rank"; }

# A rank stopped (SIGSTOP: a hung host, a dead link) is not noticed by Open MPI's runtime: the
# collective timeout ends the job (here LSTM_COLLECTIVE_TIMEOUT_S=10) in under 60 s, with a message
# naming the rank (rank 0 names the ranks that did not arrive at a collective, or did not answer its
# ping inside one; when rank 0 is the one stopped, the others say rank 0 did not answer), and mpirun
# exits non-zero.
LSTM_COLLECTIVE_TIMEOUT_S=10 "${mpirun[@]}" -x LSTM_COLLECTIVE_TIMEOUT_S -np 2 "$LSTM" train long.yaml \
    --set checkpoint.dir="$work/stopped" >stopped.log 2>&1 &
job=$!
for _ in $(seq 600); do [[ -e stopped/step-00000050.h5 ]] && break; sleep 0.1; done
victim=$(pgrep -P $job | tail -1)
victim_rank=$(tr '\0' '\n' <"/proc/$victim/environ" | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')
kill -STOP "$victim"
t0=$(date +%s.%N)
for _ in $(seq 600); do running $job || break; sleep 0.1; done
t1=$(date +%s.%N)
if running $job; then
    fail "a stopped rank left the job running after 60 s"
    kill -KILL $job
fi
status=0
wait $job || status=$?
kill -KILL "$victim" 2>/dev/null || true
ended=$("$python" -c "print(f'{$t1 - $t0:.1f}')")
echo "stopped rank $victim_rank (SIGSTOP): the job ended after $ended s with status $status"
"$python" -c "import sys; sys.exit(0 if $t1 - $t0 < 60 else 1)" || fail "the job took $ended s (>= 60 s) to end after a rank was stopped"
[[ $status != 0 ]] || fail "a stopped rank: mpirun exited 0"
if [[ $victim_rank == 0 ]]; then
    grep -q "rank 0 did not answer" stopped.log || { cat stopped.log; fail "no message naming the stopped rank 0"; }
else
    grep -E -q "lstm: rank 0 of 2: .*rank $victim_rank did not (arrive|answer).*10 s|lstm: rank 0 of 2: .*10 s.*rank $victim_rank did not answer" stopped.log \
        || { cat stopped.log; fail "no message naming the stopped rank $victim_rank"; }
fi
grep "did not arrive\|did not answer" stopped.log | head -1

# Bad data seen by one rank only (its copy of the file has a class id out of range): that rank
# stops the job with MPI_Abort and a message naming the rank, the file and the object; no hang.
"$python" - <<'PY'
import shutil, h5py
shutil.copy("waves.h5", "bad.h5")
with h5py.File("bad.h5", "r+") as f:
    t = f["train/targets"]
    t[57] = 99
    del f.attrs["checksums"]  # an edit on purpose: the class id, not the checksum, is what must stop it
PY
sed -e "s|$work/waves.h5|$work/bad.h5|" -e '/generate:/d' seq.yaml >bad.yaml
t0=$(date +%s.%N)
status=0
timeout 60 "${mpirun[@]}" -np 1 "$LSTM" train seq.yaml --set checkpoint.dir="$work/bad" : \
    -np 1 "$LSTM" train bad.yaml --set checkpoint.dir="$work/bad" >bad.log 2>&1 || status=$?
t1=$(date +%s.%N)
echo "bad data on rank 1: the job ended after $("$python" -c "print(f'{$t1 - $t0:.1f}')") s with status $status"
[[ $status != 0 && $status != 124 ]] || fail "bad data on one rank: status $status (124: hung until timeout)"
grep -q "lstm: rank 1 of 2: .*bad.h5" bad.log || { cat bad.log; fail "the message does not name rank 1 and bad.h5"; }
grep "lstm: rank 1 of 2" bad.log | head -1

echo "test-mpi: $failures failure(s)"
exit $((failures > 0))
