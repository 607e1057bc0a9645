#!/usr/bin/env bash
# Simulated hosts, real network stack (docs/cluster.md, "A cluster on one machine"): builds N
# "hosts" as Linux network namespaces, each with its own hostname (a UTS namespace) and one veth
# link to a bridge that lives in a namespace of its own (the switch), shapes every link with `tc`
# (tbf: RATE each way; netem DELAY one way when the kernel has sch_netem), and runs Open MPI across
# them over TCP: mpirun in host 0, a launch agent that enters the other hosts with `ip netns exec`
# instead of ssh, `--mca btl tcp,self` (no shared memory between hosts). Traffic stays inside the
# namespaces; every namespace, link and /etc/netns entry is removed on exit (trap).
#
#   scripts/mpi-netns-cluster.sh check [N]              # bitwise check: N hosts vs one process (N = 2)
#   scripts/mpi-netns-cluster.sh bench N RATE H [STEPS] # speed run: N hosts, RATE (1gbit, 10gbit), H
#     (LAYERS=2 for a stack of 2; OVERLAP=true|false sets parallel.overlap, else its default;
#     SHARDS=S instead of 4)
#   scripts/mpi-netns-cluster.sh shell N RATE -- CMD    # CMD in host 0 with $MPIRUN set (by hand)
# Needs root, iproute2 (ip, tc), util-linux (unshare), Open MPI and the MPI build of lstm
# (LSTM=path, default .build-mpi/release/lstm, built if missing). DELAY_US=100 asks for netem.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source "$root/scripts/mpi-common.sh"
mode=${1:?usage: $0 check [N] | bench N RATE H [STEPS] | shell N RATE -- CMD}
shift
[[ $(id -u) == 0 ]] || { echo "$(basename "$0"): needs root (network namespaces)" >&2; exit 1; }
for tool in ip tc unshare mpirun; do
    command -v $tool >/dev/null || { echo "$(basename "$0"): $tool missing (apt-get install iproute2 util-linux openmpi-bin; .ci/run does)" >&2; exit 1; }
done
if [[ -z "${LSTM:-}" ]]; then
    LSTM=$root/.build-mpi/release/lstm
    [[ -x $LSTM ]] || swift build -c release --traits MPI --build-path .build-mpi --product lstm
fi
LSTM=$(realpath "$LSTM")  # the checks run in a work directory

tag=lc$$                 # names unique to this run: several may run at once
sw=$tag-sw
work=$(mktemp -d /tmp/lstm-netns.XXXXXX)
hosts=0
cleanup() {
    local i
    for ((i = 0; i < hosts; i++)); do
        ip netns del "$tag-h$i" 2>/dev/null || true
        rm -rf "/etc/netns/$tag-h$i"
    done
    ip netns del "$sw" 2>/dev/null || true
    rmdir /etc/netns 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# up N RATE: N hosts 10.213.0.1.. on one switch, every port shaped to RATE in both directions.
up() {
    local n=$1 rate=$2 i
    ip netns add "$sw"
    ip -n "$sw" link add br0 type bridge
    ip -n "$sw" link set br0 up
    # tbf's bucket must hold at least one timer tick of traffic (rate / HZ, HZ ≤ 1000), and the
    # queue a few ms of it.
    local bits=${rate%bit} mult=1
    case $bits in *g) mult=1000000000 ;; *m) mult=1000000 ;; *k) mult=1000 ;; esac
    local bytes_per_s=$((${bits%[gmk]} * mult / 8))
    local burst=$((bytes_per_s / 500 > 65536 ? bytes_per_s / 500 : 65536))
    netem=no
    for ((i = 0; i < n; i++)); do
        local h=$tag-h$i
        ip netns add "$h"
        hosts=$((i + 1))
        ip link add eth0 netns "$h" type veth peer name "p$i" netns "$sw"
        ip -n "$sw" link set "p$i" master br0
        ip -n "$sw" link set "p$i" up
        ip -n "$h" addr add "10.213.0.$((i + 1))/24" dev eth0
        ip -n "$h" link set eth0 up
        ip -n "$h" link set lo up
        # SLOW_START_AFTER_IDLE=0: TCP keeps its window across the compute phase between exchanges.
        if [[ -n ${SLOW_START_AFTER_IDLE:-} ]]; then
            ip netns exec "$h" sysctl -q -w net.ipv4.tcp_slow_start_after_idle="$SLOW_START_AFTER_IDLE"
        fi
        # host → switch (upload) and switch → host (download)
        if [[ -n ${DELAY_US:-} ]] && tc -n "$h" qdisc add dev eth0 root handle 1: netem delay "${DELAY_US}us" 2>/dev/null; then
            netem=yes
            tc -n "$h" qdisc add dev eth0 parent 1: handle 2: tbf rate "$rate" burst "$burst" latency "${TBF_LATENCY:-20ms}"
        else
            tc -n "$h" qdisc add dev eth0 root tbf rate "$rate" burst "$burst" latency "${TBF_LATENCY:-20ms}"
        fi
        tc -n "$sw" qdisc add dev "p$i" root tbf rate "$rate" burst "$burst" latency "${TBF_LATENCY:-20ms}"
        mkdir -p "/etc/netns/$h"
    done
    for ((i = 0; i < n; i++)); do
        { echo "127.0.0.1 localhost"; for ((j = 0; j < n; j++)); do echo "10.213.0.$((j + 1)) $tag-h$j"; done; } \
            >"/etc/netns/$tag-h$i/hosts"
        echo "$tag-h$i slots=4" >>"$work/hostfile"
    done
    if [[ -n ${DELAY_US:-} && $netem == no ]]; then
        echo "note: this kernel has no sch_netem: DELAY_US=$DELAY_US not applied (links have veth's own latency)" >&2
    fi
    # The launch agent: mpirun calls `agent HOST COMMAND…` as it would call ssh.
    cat >"$work/agent" <<AGENT
#!/bin/sh
host=\$1
shift
exec ip netns exec "\$host" unshare --uts sh -c 'hostname "\$0"; exec sh -c "\$1"' "\$host" "\$*"
AGENT
    chmod +x "$work/agent"
    MPIRUN="mpirun --allow-run-as-root --hostfile $work/hostfile --map-by ppr:1:node --bind-to none \
--mca plm_rsh_agent $work/agent --mca btl tcp,self --mca btl_tcp_if_include eth0 --mca oob_tcp_if_include eth0 \
-x OPENBLAS_NUM_THREADS=1 -x LSTM_COLLECTIVE_TIMEOUT_S"
    export MPIRUN LSTM_COLLECTIVE_TIMEOUT_S=${LSTM_COLLECTIVE_TIMEOUT_S:-300}
    echo "cluster: $n hosts ($tag-h0..h$((n - 1)), 10.213.0.1-$n) on switch $sw, links $rate each way (tbf burst $burst B)$([[ $netem == yes ]] && echo ", ${DELAY_US} µs one way")"
}

# in_host0 CMD…: runs CMD in host 0 (its namespace and hostname).
in_host0() {
    ip netns exec "$tag-h0" unshare --uts sh -c 'hostname "$0"; exec "$@"' "$tag-h0" "$@"
}

# Measured throughput and round trip between host 0 and host 1 (python sockets).
probe() {
    ip netns exec "$tag-h1" "$python" - <<'PY' &
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("10.213.0.2", 5201)); s.listen(1)
c, _ = s.accept()
for _ in range(200):
    c.sendall(c.recv(1))
total = 0
while True:
    b = c.recv(1 << 20)
    if not b: break
    total += len(b)
c.sendall(b"k")
PY
    local server=$!
    sleep 0.5
    ip netns exec "$tag-h0" "$python" - <<'PY'
import socket, time, statistics
c = socket.create_connection(("10.213.0.2", 5201)); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
rtt = []
for _ in range(200):
    t = time.perf_counter(); c.sendall(b"x"); c.recv(1); rtt.append(time.perf_counter() - t)
buf = b"\0" * (1 << 20); n = 64
t = time.perf_counter()
for _ in range(n): c.sendall(buf)
c.shutdown(socket.SHUT_WR); c.recv(1)
dt = time.perf_counter() - t
print(f"link probe h0 -> h1: round trip median {statistics.median(rtt) * 1e6:.0f} µs, {n} MiB in {dt:.3f} s = {n * 8 * 1.048576 / dt / 1000:.2f} Gb/s")
PY
    wait $server
}

case $mode in
check)
    n=${1:-2}
    up "$n" 1gbit
    cd "$work"
    seq_config "$work" >check.yaml  # (mpi-common.sh)
    OPENBLAS_NUM_THREADS=1 "$LSTM" train check.yaml --set checkpoint.dir="$work/alone" >alone.log 2>&1 \
        || { cat alone.log; exit 1; }
    # shellcheck disable=SC2086
    in_host0 $MPIRUN -np "$n" "$LSTM" train check.yaml --set checkpoint.dir="$work/hosts" >hosts.log 2>&1 \
        || { cat hosts.log; echo "FAIL: training across $n namespaces"; exit 1; }
    grep -q "in each of $n processes, gradient exchange overlapped" hosts.log \
        || { cat hosts.log; echo "FAIL: not $n processes with the exchange overlapped"; exit 1; }
    "$python" "$root/scripts/compare-runs.py" alone hosts || { echo "FAIL: $n hosts differ from one process"; exit 1; }
    "$python" - hosts/metrics.jsonl <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if "exchange_s" in l]
assert r, "no compute_s/exchange_s/wait_s in metrics.jsonl under MPI"
print(f"per step (last record): compute {r[-1]['compute_s']*1e3:.1f} ms, exchange {r[-1]['exchange_s']*1e3:.2f} ms, wait {r[-1]['wait_s']*1e3:.2f} ms, overlap {r[-1]['overlap']:.3f}")
PY
    echo "mpi-netns-cluster: $n hosts over TCP give the bits of one process"
    ;;
bench)
    n=${1:?N} rate=${2:?RATE} h=${3:?H} steps=${4:-20}
    up "$n" "$rate"
    probe
    cd "$work"
    bench_data bench.h5
    # The bench-mpi.sh shape (I = 128, O = 128, B = 64, T = 100, Adam) at hidden size H, S = 4
    # (or SHARDS), LAYERS layers (1).
    bench_config "$work" "$h" "${LAYERS:-1}" "$steps" "shards: ${SHARDS:-4}, workers: 1${OVERLAP:+, overlap: $OVERLAP}" >bench.yaml
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    # shellcheck disable=SC2086
    in_host0 $MPIRUN -np "$n" "$LSTM" train bench.yaml --set checkpoint.dir="$work/run" >run.log 2>&1 \
        || { cat run.log; exit 1; }
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
    "$python" - run/metrics.jsonl "$n" "$rate" "$h" <<'PY'
import json, statistics, sys
path, n, rate, h = sys.argv[1:]
r = [json.loads(l) for l in open(path) if "compute_s" in l][3:]  # after 3 warm-up steps
med = lambda k: statistics.median(x[k] for x in r) * 1e3
# (compute_s includes the exchange hidden behind backpropagation: overlap · exchange_s)
step = statistics.median(x["compute_s"] + (1 - x.get("overlap", 0)) * x["exchange_s"] + x["wait_s"] for x in r) * 1e3
print(f"RESULT N={n} rate={rate} H={h}: step {step:.0f} ms = compute {med('compute_s'):.0f} + exchange {med('exchange_s'):.1f} + wait {med('wait_s'):.1f} ms, overlap {statistics.median(x.get('overlap', 0) for x in r):.3f} (medians of {len(r)} steps)")
PY
    ;;
shell)
    n=${1:?N} rate=${2:?RATE}
    shift 2
    [[ ${1:-} == -- ]] && shift
    up "$n" "$rate"
    in_host0 "$@"
    ;;
*)
    echo "usage: $0 check [N] | bench N RATE H [STEPS] | shell N RATE -- CMD" >&2
    exit 64
    ;;
esac
