#!/bin/bash
# table.sh — prints build/bench/results.json (written by bench/run.sh) as a table.
# Usage: bench/table.sh [RESULTS_JSON]
set -u
f=${1:-build/bench/results.json}
jq -r '"machine: \(.machine.nproc) cores, \(.machine.cpu), kernel \(.machine.kernel); load \(.machine.loadavg_at_start // "?"); git \(.git); started \(.started)\(if .quick then " (BENCH_QUICK)" else "" end)"' "$f"
# madang-loadgen --calibrate before and after the scenarios (older results have none)
jq -r 'def c(x): if x == null then "?" else "syscall \(x.syscall_us) µs, 200-byte loopback send \(x.send_us) µs, thread wake-up round trip \(x.wakeup_rtt_us) µs" end;
  if .machine.costs_at_start == null then empty
  else "machine costs at start: \(c(.machine.costs_at_start)); at end: \(c(.machine.costs_at_end))" end' "$f"
jq -r '
  def n(x): if x == null then "-" else (x | tostring) end;
  def k(x): if x == null then "-" elif x >= 1000000 then ((x / 100000 | floor) / 10 | tostring) + "M"
            elif x >= 1000 then ((x / 100 | floor) / 10 | tostring) + "k" else (x | tostring) end;
  (["scenario","server","conns","made","fail","conn/s","ready/s","deliv/s","p50ms","p99ms","p99.9ms","maxms","lost","dup","ooo","rss/conn","best","cpuwait%","pass"] | @tsv),
  (.scenarios[] | .result as $r |
    [.name, .server, n($r.conns), n($r.connections_made), (if $r.connections_failed == null then "-" else n($r.connections_failed + ($r.connections_not_joined // 0)) end),
     (if $r.idle == false then "-" else k($r.connects_per_s) end),
     (if $r.idle == false then "-" else k($r.ready_per_s) end), (if $r.idle then "-" else k($r.deliveries_per_s // $r.messages_per_s) end),
     (if $r.latency_ms.samples == 0 then "-" else n($r.latency_ms.p50) end),
     (if $r.latency_ms.samples == 0 then "-" else n($r.latency_ms.p99) end),
     (if $r.latency_ms.samples == 0 then "-" else n($r.latency_ms.p99_9 // $r.latency_ms.p999) end),
     (if $r.latency_ms.samples == 0 then "-" else n($r.latency_ms.max) end), n($r.lost),
     n($r.duplicated), n($r.out_of_order),
     (if $r.rss_bytes_per_conn != null and $r.idle then ($r.rss_bytes_per_conn | tostring) + "B" else "-" end),
     k($r.best_deliveries_per_s), n($r.cpu_pressure_pct), (if .pass == null then (if $r.skipped then "skipped" elif $r.error then "error" else "-" end)
                                   elif .pass then "PASS" else "FAIL" end)] | @tsv)
' "$f" | column -t -s $'\t'
jq -r '
( [.scenarios[] | select(.name == "fanout" or .name == "rooms" or .name == "ramp")] as $s |
    ($s | map(.name) | unique[]) as $name |
    ($s | map(select(.name == $name and .server == "madang"))[0].result) as $m |
    ($s | map(select(.name == $name and .server == "reference"))[0].result) as $ref |
    if $m != null and $ref != null and $m.error == null and $ref.error == null then
      if $name == "ramp" then
        "ratio \($name): madang/reference highest passing step = " +
        (if ($ref.best_deliveries_per_s // 0) > 0 then ((($m.best_deliveries_per_s // 0) / $ref.best_deliveries_per_s * 10 | floor) / 10 | tostring) + "x" else "n/a (reference passed no step)" end)
      else
        "ratio \($name): madang/reference deliveries/s = " +
        (if ($ref.deliveries_per_s // 0) > 0 then ((($m.deliveries_per_s // 0) / $ref.deliveries_per_s * 100 | floor) / 100 | tostring) + "x" else "n/a" end) +
        ", p99 reference/madang = " +
        (if ($m.latency_ms.p99 // 0) > 0 then (($ref.latency_ms.p99 / $m.latency_ms.p99 * 10 | floor) / 10 | tostring) + "x" else "n/a" end)
      end
    else empty end)
' "$f"
