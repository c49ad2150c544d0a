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
# Madang beside each reference server, one line per scenario: p50/p99 (ms), the ramp's highest
# passing step, idle memory per connection; then madang's ratio to each reference (madang ÷
# reference: below 1 is better for latency and memory, above 1 better for the ramp). Results
# written before there were two references call the Node one "reference".
side=$(jq -r '
  def r1(x): (x * 10 | round) / 10;
  def lat(r): if r == null or r.error != null or (r.latency_ms.samples // 0) == 0 then "-"
              else "\(r.latency_ms.p50)/\(r.latency_ms.p99)" end;
  def fig(name; r): if r == null or r.error != null then "-"
              elif name == "ramp" then (r.best_deliveries_per_s // 0 | tostring)
              elif name == "idle" then (if r.rss_bytes_per_conn == null then "-" else "\(r.rss_bytes_per_conn)B" end)
              else lat(r) end;
  def ratio(name; m; r): if m == null or r == null or m.error != null or r.error != null then "-"
              elif name == "ramp" then (if (r.best_deliveries_per_s // 0) > 0 then "\(r1(m.best_deliveries_per_s / r.best_deliveries_per_s))x" else "-" end)
              elif name == "idle" then (if (r.rss_bytes_per_conn // 0) > 0 and m.rss_bytes_per_conn != null then "\(r1(m.rss_bytes_per_conn / r.rss_bytes_per_conn))x" else "-" end)
              elif (r.latency_ms.p50 // 0) > 0 and (r.latency_ms.p99 // 0) > 0 and (m.latency_ms.samples // 0) > 0 then
                "\(r1(m.latency_ms.p50 / r.latency_ms.p50))x/\(r1(m.latency_ms.p99 / r.latency_ms.p99))x"
              else "-" end;
  [.scenarios[] | .server |= (if . == "reference" then "node-ws" else . end)] as $s |
  ([$s[] | .server | select(. != "madang")] | unique) as $refs |
  if ($refs | length) == 0 then empty else
    ((["scenario", "madang"] + $refs + ($refs | map("madang÷" + .))) | @tsv),
    ($s | map(select(.name == "fanout" or .name == "light" or .name == "rooms" or .name == "ramp" or .name == "idle")) |
      map(.name) | unique[] as $name |
      ($s | map(select(.name == $name and .server == "madang"))[0].result) as $m |
      ([$name, fig($name; $m)] +
       ($refs | map(. as $ref | fig($name; ($s | map(select(.name == $name and .server == $ref))[0].result)))) +
       ($refs | map(. as $ref | ratio($name; $m; ($s | map(select(.name == $name and .server == $ref))[0].result))))) | @tsv)
  end
' "$f")
if [ -n "$side" ]; then
	printf '\nmadang beside the references (fanout, rooms: p50/p99 ms; ramp: highest passing step; idle: memory per connection):\n'
	column -t -s $'\t' <<<"$side"
fi
# The ramp, step by step: p50 and p99 of every attempt, so that a regression at light load shows
# even when the highest passing step does not move.
steps=$(jq -r '
  [.scenarios[] | select(.name == "ramp") | (.server |= (if . == "reference" then "node-ws" else . end)) |
    .server as $srv | (.result.steps // [])[] | . + {server: $srv}] as $st |
  if ($st | length) == 0 then empty else
    (["server", "step", "attempt", "deliv/s", "p50ms", "p99ms", "lost", "pass"] | @tsv),
    ($st[] | [.server, .step_deliveries_per_s, .attempt, (.deliveries_per_s // "-"), (.p50_ms // "-"),
              (.p99_ms // "-"), (.lost // "-"), (if .pass then "PASS" else "FAIL" end)] | map(tostring) | @tsv)
  end
' "$f")
if [ -n "$steps" ]; then
	printf '\nramp steps (deliveries/s offered, p50 and p99 in ms, each attempt):\n'
	column -t -s $'\t' <<<"$steps"
fi
