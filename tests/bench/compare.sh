#!/usr/bin/env bash
# Whole-process benchmark: tamperwatch replay against tcpdump (and tshark when
# installed) on the same generated capture, in one run. Not a test: it prints
# figures for docs/performance.md.
#
#   tests/bench/compare.sh [PACKETS] [FLOWS]      (defaults: 2000000 2000)
#
# Needs tcpdump; uses /usr/bin/time for peak memory when present.
set -euo pipefail
cd "$(dirname "$0")/../.."
packets=${1:-2000000}
flows=${2:-2000}
work=${BENCH_DIR:-$(mktemp -d /tmp/tw-bench.XXXXXX)}
cap="$work/bench-$packets.pcap"

cargo build --release -q -p tamperwatch -p tw-scenario
tw=target/release/tamperwatch
gen=target/release/tw-scenario
if [ ! -s "$cap" ]; then
  "$gen" bench --packets "$packets" --flows "$flows" --seed 1 -o "$cap"
fi
size=$(stat -c %s "$cap")
echo "capture: $cap ($packets packets, $((size / 1024 / 1024)) MiB)"
cat "$cap" > /dev/null   # warm the page cache for every contender

timeit() { # label, command...: prints wall seconds, CPU seconds (user+sys) and peak RSS (KiB)
  local label=$1; shift
  local t0 t1 rss="" cpu=""
  if [ -x /usr/bin/time ]; then
    t0=$(date +%s.%N)
    /usr/bin/time -f '%M %U %S' -o "$work/rss" "$@" >/dev/null 2>"$work/err" || { cat "$work/err"; return 1; }
    t1=$(date +%s.%N)
    read -r rss u s < <(tail -1 "$work/rss")
    cpu=$(printf %.2f "$(echo "$u + $s" | bc -l)")
  else
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>"$work/err" || { cat "$work/err"; return 1; }
    t1=$(date +%s.%N)
  fi
  local secs
  secs=$(echo "$t1 - $t0" | bc -l)
  printf '%-34s %8.3f s %12.0f packets/s  CPU %5s s  peak RSS %s KiB\n' "$label" "$secs" "$(echo "$packets / $secs" | bc -l)" "${cpu:-?}" "${rss:-?}"
  echo "$secs" > "$work/last"
}

timeit "tcpdump -r -w /dev/null" tcpdump -r "$cap" -w /dev/null
td=$(cat "$work/last")
timeit "tamperwatch replay (1 worker)" "$tw" replay -q --workers 1 --events /dev/null "$cap"
t1=$(cat "$work/last")
timeit "tamperwatch replay (2 workers)" "$tw" replay -q --workers 2 --events /dev/null "$cap"
t2=$(cat "$work/last")
if command -v tshark >/dev/null 2>&1 && [ "${BENCH_TSHARK:-0}" = 1 ]; then
  # tshark's TCP analysis (sequence tracking, the expert info) over every
  # packet, with a per-conversation table at the end
  timeit "tshark -r (tcp analysis)" tshark -n -r "$cap" -q -o tcp.analyze_sequence_numbers:TRUE -z conv,tcp
fi
if [ "${BENCH_FLOOD:-0}" = 1 ]; then
  # The same traffic with a SYN flood of 1,000,000 spoofed sources mixed in,
  # replayed with the default tables and with a 256 MiB memory ceiling.
  flood="$work/bench-$packets-flood.pcap"
  [ -s "$flood" ] || "$gen" bench --packets "$packets" --flows "$flows" --seed 1 --flood-syns 1000000 -o "$flood" >/dev/null
  cat "$flood" > /dev/null
  all=$((packets + 1000000))
  printf '[flows]\nmemory_limit_mib = 256\n' > "$work/ceiling.toml"
  packets=$all timeit "tcpdump, flood" tcpdump -r "$flood" -w /dev/null
  packets=$all timeit "tamperwatch (1 worker), flood" "$tw" replay -q --workers 1 --events /dev/null "$flood"
  packets=$all timeit "tamperwatch (1 w.), flood, 256 MiB" "$tw" replay -q --workers 1 -c "$work/ceiling.toml" --events /dev/null "$flood"
fi
printf 'ratio tamperwatch(1 worker)/tcpdump  = %.2f\n' "$(echo "$t1 / $td" | bc -l)"
printf 'ratio tamperwatch(2 workers)/tcpdump = %.2f\n' "$(echo "$t2 / $td" | bc -l)"
