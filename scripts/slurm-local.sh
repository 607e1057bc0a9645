#!/usr/bin/env bash
# lstm under a real Slurm on one machine (docs/cluster.md, "Slurm"). Starts a one-node cluster of
# its own (munged, slurmctld, slurmd: state, key, sockets and logs in a temporary directory, its
# own ports; nothing in /etc is changed), then checks:
#   1. `srun --mpi=pmix -n 2 lstm train`: the ranks learn rank and size from PMIx, train as one job
#      and give the bits of one process;
#   2. docs/cluster.md's batch script, taken from the doc and submitted unchanged (sbatch options on
#      the command line shrink it to this machine: 1 node, 2 tasks, a 2-minute limit and
#      --signal=B:USR1@110): Slurm signals the script before the limit, the run stops at a step
#      with a checkpoint and status 75, the script requeues the job; the requeued job (its limit
#      raised, so that it is not signalled again, and released at once instead of after Slurm's
#      requeue delay) resumes and finishes; the run equals one never interrupted, bit for bit.
# Needs root and Debian's slurmctld, slurmd, slurm-client and munge (installed here if missing).
#   scripts/slurm-local.sh                    # builds the MPI lstm (as scripts/test-mpi.sh does)
#   LSTM=.build-mpi/debug/lstm scripts/slurm-local.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
[[ $(id -u) == 0 ]] || { echo "$(basename "$0"): needs root (it starts slurmctld and slurmd)" >&2; exit 1; }
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
    || ! command -v munged >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge
fi
if [[ -z "${LSTM:-}" ]]; then
    swift build --traits MPI --build-path .build-mpi --product lstm
    LSTM=$root/.build-mpi/debug/lstm
fi
LSTM=$(realpath "$LSTM")
source "$root/scripts/mpi-common.sh"

work=$(mktemp -d /tmp/lstm-slurm.XXXXXX)
chmod 755 "$work"
export SLURM_CONF=$work/slurm.conf
cleanup() {
    for pid in "$work"/run/*.pid; do [[ -e $pid ]] && kill "$(cat "$pid")" 2>/dev/null || true; done
    sleep 1
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work"/{run,state,spool,munge,bin,home/runs}
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
logs() { tail -n 30 "$work"/*.log "$work"/run/*.log 2>/dev/null || true; }

# munged with a key of its own (Slurm signs its messages with it).
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 700 "$work/munge" && chmod 600 "$work/munge/munge.key"
munged --force --key-file="$work/munge/munge.key" --socket="$work/munge/munge.socket" \
    --pid-file="$work/run/munged.pid" --log-file="$work/run/munged.log" --seed-file="$work/munge/seed"

port=$((20000 + RANDOM % 20000))
host=$(hostname -s)
cat >"$SLURM_CONF" <<EOF
ClusterName=lstmlocal
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/munge.socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/run/slurmctld.pid
SlurmdPidFile=$work/run/slurmd.pid
SlurmctldLogFile=$work/run/slurmctld.log
SlurmdLogFile=$work/run/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobRequeue=1
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
slurmctld -i
slurmd
for _ in $(seq 60); do [[ $(sinfo -h -o %t 2>/dev/null) == idle ]] && break; sleep 1; done
[[ $(sinfo -h -o %t 2>/dev/null) == idle ]] || { logs; echo "$(basename "$0"): the one-node Slurm did not come up" >&2; exit 1; }
echo "slurm: $(sinfo -V), node $host idle"

cd "$work"
same() { "$python" "$root/scripts/compare-runs.py" "$@"; }
seq_config "$work" >seq.yaml  # test-mpi.sh's `seq` config (mpi-common.sh)
"$LSTM" train seq.yaml --set checkpoint.dir="$work/alone" >alone.log 2>&1 || { cat alone.log; exit 1; }

# 1. srun with PMIx.
OPENBLAS_NUM_THREADS=1 srun --mpi=pmix -n 2 "$LSTM" train seq.yaml --set checkpoint.dir="$work/srun2" >srun2.log 2>&1 \
    || { cat srun2.log; fail "srun --mpi=pmix -n 2 lstm train"; }
grep -q "in each of 2 processes" srun2.log || { cat srun2.log; fail "srun -n 2: lstm did not see 2 processes"; }
same alone srun2 || fail "srun --mpi=pmix -n 2 differs from one process"

# 2. The documented batch script: a run of about 90 s on a quiet machine (twice the latest signal),
# interrupted by Slurm's --signal, requeued by the script, resumed by the requeued job. Slurm sends
# the signal at its first time-limit check (every 30 s) at which less than T + 30 s remain, so
# --time=2 with USR1@75 signals 15-45 s after the start: after lstm is up, before the run ends.
sed -e 's/epochs: 3,/epochs: 1800,/' -e 's/every: 4}/every: 100}/' -e 's/every: 4, keep: 100/every: 100, keep: 3/' \
    -e 's/every: 2, progress/every: 50, progress/' seq.yaml >job.yaml
t0=$(date +%s)
"$LSTM" train job.yaml --set checkpoint.dir="$work/reference" >reference.log 2>&1 || { cat reference.log; exit 1; }
echo "the run never stopped: $(($(date +%s) - t0)) s"
awk '/^#!\/bin\/bash$/ {p = 1} p {print} p && /^exit \$status$/ {exit}' "$root/docs/cluster.md" >job.sh
grep -q '^#SBATCH --signal=B:USR1@' job.sh && grep -q '^exit \$status$' job.sh \
    || { cat job.sh; echo "$(basename "$0"): no batch script found in docs/cluster.md" >&2; exit 1; }
ln -s "$LSTM" bin/lstm
started=$(date +%s)
id=$(HOME=$work/home PATH=$work/bin:$PATH sbatch --parsable --nodes=1 --ntasks=2 --ntasks-per-node=2 \
    --cpus-per-task=1 --time=2 --signal=B:USR1@75 --output="$work/job.log" --chdir="$work" job.sh)
state() { scontrol -o show job "$id" | grep -o "\b$1=[^ ]*" | cut -d= -f2; }
released=no
for _ in $(seq 600); do
    s=$(state JobState)
    [[ $s == COMPLETED || $s == FAILED || $s == CANCELLED || $s == TIMEOUT || $s == NODE_FAIL ]] && break
    if [[ $released == no && $(state Restarts) -ge 1 && $s == PENDING ]]; then
        # (10 s: the ended step's PMIx socket is removed after the requeue; Slurm itself waits 120 s)
        scontrol update JobId="$id" TimeLimit=30 StartTime=now+10
        released=yes
    fi
    sleep 1
done
grep -E "stopped on request|^resuming|^interrupted|^final" job.log || true
echo "batch job $id: $(state JobState), exit $(state ExitCode), restarts $(state Restarts), $(($(date +%s) - started)) s"
[[ $(state JobState) == COMPLETED && $(state ExitCode) == 0:0 ]] || { cat job.log; fail "the batch job did not complete"; }
[[ $released == yes ]] || { cat job.log; fail "the batch job was not requeued (did the run end before Slurm's signal?)"; }
grep -q "stopped on request" job.log && grep -q "exit status 75" job.log \
    || { cat job.log; fail "Slurm's SIGUSR1 did not stop the run with status 75"; }
grep -q "^resuming $work/home/runs/charlm at step" job.log || { cat job.log; fail "the requeued job did not resume the run"; }
stopped=()
for f in $(comm -23 <(cd home/runs/charlm && ls step-*.h5) <(cd reference && ls step-*.h5)); do stopped+=(--skip "$f"); done
same "${stopped[@]}" reference home/runs/charlm || fail "interrupted by Slurm, requeued and resumed differs from the run never stopped"

if [[ $failures -gt 0 ]]; then
    logs
    echo "slurm-local: $failures failure(s)"
    exit 1
fi
echo "slurm-local: srun --mpi=pmix -n 2 = one process; the documented batch script stopped on Slurm's signal, requeued, resumed: same bits"
