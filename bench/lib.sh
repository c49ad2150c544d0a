# lib.sh — sourced by bench/run.sh, bench/massif-idle.sh and bench/soak.sh after they set
# BENCH_WHO (the name their log lines begin with). Gives each a private temporary directory
# (BENCH_TMP), the list of processes it started (pids: append every one), stopped and waited for
# on exit before the directory goes, log(), and freeport().
# shellcheck shell=bash
BENCH_TMP=$(mktemp -d "/tmp/madang-$BENCH_WHO.XXXXXX")
pids=()

log() { echo "$BENCH_WHO: $*" >&2; }

bench_cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# A free TCP port on 127.0.0.1 (node is there for the load generator's reference servers).
freeport() {
	node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
