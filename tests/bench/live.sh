#!/usr/bin/env bash
# Live benchmark: `tamperwatch run` on the receiving end of a veth pair, fed
# by tcpreplay --topspeed from another network namespace with a generated
# capture (the same mix as compare.sh). Not a test: it prints figures for
# docs/performance.md. Needs root, iproute2, tcpreplay, curl.
#
#   tests/bench/live.sh [PACKETS] [WORKERS] [FANOUT] [SENDERS]   (defaults: 1000000 1 1 1)
#
# BENCH_FLOWS=N makes the capture with N concurrent flows (default 5000);
# BENCH_BIN=PATH runs that tamperwatch binary instead of the one built here.
# SENDERS > 1 runs that many tcpreplay processes at once (each sends the
# whole capture), for a higher aggregate rate than one can reach.
# FANOUT > 1 opens that many rings on the interface in one PACKET_FANOUT
# group (capture.fanout), each on its own capture thread.
# Prints: packets sent (tcpreplay's rate), packets the kernel handed to the
# rings, kernel drops, and tamperwatch's CPU time (user + system, from
# /proc/PID/stat) per captured packet.
set -euo pipefail
cd "$(dirname "$0")/../.."
packets=${1:-1000000}
workers=${2:-1}
fanout=${3:-1}
senders=${4:-1}
work=${BENCH_DIR:-$(mktemp -d /tmp/tw-live.XXXXXX)}
flows=${BENCH_FLOWS:-5000}
cap="$work/live-$packets-$flows.pcap"
tx=tw-bench-tx rx=tw-bench-rx
port=19874

cargo build --release -q -p tamperwatch -p tw-scenario
tw=${BENCH_BIN:-$PWD/target/release/tamperwatch}
if [ ! -s "$cap" ]; then
  # MTU-sized frames only (tcpreplay cannot send larger ones on the veth)
  target/release/tw-scenario bench --packets "$packets" --flows "$flows" --seed 1 -o "$cap" >/dev/null
fi

cleanup() {
  [ -n "${twpid:-}" ] && kill "$twpid" 2>/dev/null && wait "$twpid" 2>/dev/null || true
  ip netns del "$tx" 2>/dev/null || true
  ip netns del "$rx" 2>/dev/null || true
}
trap cleanup EXIT
cleanup
ip netns add "$tx"
ip netns add "$rx"
ip link add vtx netns "$tx" type veth peer name vrx netns "$rx"
for ns in "$tx" "$rx"; do ip -n "$ns" link set lo up; done
ip -n "$tx" link set vtx mtu 9000 up
ip -n "$rx" link set vrx mtu 9000 up

cat > "$work/tw.toml" <<CFG
[capture]
interfaces = ["vrx"]
fanout = $fanout
[pipeline]
workers = $workers
[events]
file = ""
[metrics]
listen = "127.0.0.1:$port"
[security]
user = ""
CFG
ip netns exec "$rx" "$tw" run -c "$work/tw.toml" 2>"$work/tw.log" &
twpid=$!
scrape() { ip netns exec "$rx" curl -sf "http://127.0.0.1:$port/metrics"; }
for _ in $(seq 1 100); do scrape >/dev/null 2>&1 && break; sleep 0.1; done
cpu() { awk '{print $14 + $15}' "/proc/$twpid/stat"; }
tck=$(getconf CLK_TCK)
c0=$(cpu)
t0=$(date +%s.%N)
for k in $(seq 1 "$senders"); do
  ip netns exec "$tx" tcpreplay --preload-pcap --topspeed -i vtx "$cap" >"$work/tcpreplay.$k.log" 2>&1 &
done
wait $(jobs -p | grep -v "^$twpid$")
t1=$(date +%s.%N)
sleep 2   # let the rings drain and the stats poll (every second) catch up
c1=$(cpu)
threads=$(for t in /proc/$twpid/task/*; do printf '%s=%sms ' "$(cat "$t/comm")" "$(awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000 / t}' "$t/stat")"; done)
m=$(scrape)
val() { echo "$m" | awk -v n="$1" '$1 ~ "^"n {s += $2} END {printf "%.0f", s}'; }
got=$(val tamperwatch_capture_packets_total)
drops=$(val tamperwatch_capture_kernel_drops_total)
decoded=$(val tamperwatch_packets_total)
sent=$(cat "$work"/tcpreplay.*.log | grep -o 'Actual: [0-9]* packets' | awk '{s += $2} END {print s}')
# each sender's own rate over its sending time (they overlap: their sum is
# the aggregate), and all packets over the wall time including start-up
rate=$(cat "$work"/tcpreplay.*.log | grep -o 'Rated: [0-9.]* Bps, [0-9.]* Mbps, [0-9.]* pps' | awk '{s += $6} END {printf "%.0f", s}')
wall=$(echo "$sent / ($t1 - $t0)" | bc)
rm -f "$work"/tcpreplay.*.log.old
ms=$(( (c1 - c0) * 1000 / tck ))
echo "workers $workers, fanout $fanout"
echo "sent      $sent packets at $rate pps ($senders x tcpreplay --preload-pcap --topspeed; $wall pps over the wall time with loading)"
echo "captured  $got packets, kernel drops $drops, decoded $decoded"
echo "threads   $threads(since start)"
echo "cpu       $ms ms for $got packets: $(echo "$ms * 1000000 / ($got + 1)" | bc) ns per packet"
