#!/usr/bin/env bash
# Whole-process benchmark: tamperwatch replay against tcpdump (and tshark when
# installed) on the same generated capture, in one run. Not a test: it prints
# figures for docs/performance.md.
#
#   tests/bench/compare.sh [PACKETS] [FLOWS]      (defaults: 2000000 2000)
#
# BENCH_RUNS=N times tcpdump and both replays N times, interleaved (one of
# each in turn, so a host that changes speed from one minute to the next
# slows all three alike), and prints each one's median and the ratios of
# the medians, with the range of the per-round ratios. BENCH_TSHARK=1 adds
# tshark, BENCH_FLOOD=1 the SYN-flood capture (once each).
# BENCH_SCALE="1000 50000" replays (one worker) a capture of the same length
# for each number of concurrent flows and prints the flows held at once, the
# rate and the peak memory, then the memory each further flow held cost.
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
size=$(stat -L -c %s "$cap")
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

runs=${BENCH_RUNS:-1}
tds=() t1s=() t2s=() t0s=()
floor_cfg="$work/no-detectors.toml"
printf '[rst_injection]\nenabled = false\n[dns_injection]\nenabled = false\n[http_injection]\nenabled = false\n[blackhole]\nenabled = false\n[throttling]\nenabled = false\n' > "$floor_cfg"
for _ in $(seq "$runs"); do
  timeit "tcpdump -r -w /dev/null" tcpdump -r "$cap" -w /dev/null
  tds+=("$(cat "$work/last")")
  timeit "tamperwatch replay (1 worker)" "$tw" replay -q --workers 1 --events /dev/null "$cap"
  t1s+=("$(cat "$work/last")")
  timeit "tamperwatch replay (2 workers)" "$tw" replay -q --workers 2 --events /dev/null "$cap"
  t2s+=("$(cat "$work/last")")
  if [ "${BENCH_FLOOR:-0}" = 1 ]; then
    timeit "tamperwatch, no detectors (1 w.)" "$tw" replay -q --workers 1 -c "$floor_cfg" --events /dev/null "$cap"
    t0s+=("$(cat "$work/last")")
  fi
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
td=$(median "${tds[@]}")
t1=$(median "${t1s[@]}")
t2=$(median "${t2s[@]}")
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
if [ -n "${BENCH_SCALE:-}" ]; then
  # Memory per flow held, from the difference between two captures that
  # differ only in how many flows are open at once (the fixed costs cancel).
  prev=""
  for f in $BENCH_SCALE; do
    sc="$work/bench-$packets-$f.pcap"
    [ -s "$sc" ] || "$gen" bench --packets "$packets" --flows "$f" --seed 1 -o "$sc" >/dev/null
    cat "$sc" > /dev/null
    s0=$(date +%s.%N)
    "$tw" replay --workers 1 --events /dev/null "$sc" 2> "$work/scale-summary" >/dev/null
    s1=$(date +%s.%N)
    held=$(awk '/held at once/ {gsub(",", "", $4); print $4}' "$work/scale-summary")
    kib=$(awk '/peak memory/ {gsub(",", "", $3); print $3}' "$work/scale-summary")
    printf '%-34s %8.3f s %12.0f packets/s  flows held at once %s  peak RSS %s KiB\n' \
      "$f concurrent flows (1 worker)" "$(echo "$s1 - $s0" | bc -l)" "$(echo "$packets / ($s1 - $s0)" | bc -l)" "$held" "$kib"
    if [ -n "$prev" ]; then
      read -r ph pk <<< "$prev"
      printf '  each flow held beyond %s: %.0f bytes of peak RSS\n' "$ph" "$(echo "($kib - $pk) * 1024 / ($held - $ph)" | bc -l)"
    fi
    if grep -q "evicted" "$work/scale-summary"; then
      echo "  (the tables were full and flows were evicted: not a steady state)"
    fi
    prev="$held $kib"
  done
fi
if [ "$runs" -gt 1 ]; then
  # per-round ratios (each replay against the tcpdump run just before it)
  r1=() r2=()
  for i in $(seq 0 $((runs - 1))); do
    r1+=("$(echo "${t1s[$i]} / ${tds[$i]}" | bc -l)")
    r2+=("$(echo "${t2s[$i]} / ${tds[$i]}" | bc -l)")
  done
  range() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.2f-%.2f", lo, hi}'; }
  printf 'medians of %d interleaved runs: tcpdump %.3f s, 1 worker %.3f s (%.2f Mpps), 2 workers %.3f s (%.2f Mpps)\n' \
    "$runs" "$td" "$t1" "$(echo "$packets / $t1 / 1000000" | bc -l)" "$t2" "$(echo "$packets / $t2 / 1000000" | bc -l)"
  printf 'rounds where 2 workers beat tcpdump: %d of %d; per-round ratios 1 worker %s, 2 workers %s\n' \
    "$(printf '%s\n' "${r2[@]}" | awk '$1 < 1' | wc -l)" "$runs" "$(range "${r1[@]}")" "$(range "${r2[@]}")"
  printf 'two workers against one (median): %.2fx\n' "$(echo "$t1 / $t2" | bc -l)"
fi
if [ "${#t0s[@]}" -gt 0 ]; then
  t0=$(median "${t0s[@]}")
  printf 'ratio no detectors(1 worker)/tcpdump = %.2f (median %.3f s, %.2f Mpps)\n' "$(echo "$t0 / $td" | bc -l)" "$t0" "$(echo "$packets / $t0 / 1000000" | bc -l)"
fi
printf 'ratio tamperwatch(1 worker)/tcpdump  = %.2f\n' "$(echo "$t1 / $td" | bc -l)"
printf 'ratio tamperwatch(2 workers)/tcpdump = %.2f\n' "$(echo "$t2 / $td" | bc -l)"
