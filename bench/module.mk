# bench/ — the load generator (madang-loadgen) and the `make bench` harness (bench/run.sh).
LOADGEN_SRCS := bench/loadgen.c bench/lg_opts.c bench/lg_worker.c bench/lg_conn.c bench/lg_report.c \
                bench/lg_proc.c bench/lg_ws.c bench/lg_hist.c bench/lg_selftest.c bench/lg_calib.c
LOADGEN_OBJS := $(LOADGEN_SRCS:%.c=$(OBJ)/%.o)
# += : mk/bench-broker.mk adds its flags for bench/broker-bench.c to the same variable.
EXTRA_CFLAGS_bench += -pthread
PROGRAMS += $(BIN)/madang-loadgen
DEPS += $(LOADGEN_OBJS:.o=.d)

# common/ for opt.o only (option checks, --version): the archive adds no other object.
$(BIN)/madang-loadgen: $(LOADGEN_OBJS) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -pthread -o $@ $^

# The uWebSockets.js reference server's package (bench/package-lock.json), only for `make bench`:
# its prebuilt binaries for every platform take about 250 MB, which `make test` does not need.
# A failed install is not fatal: bench/run.sh then skips the uWS reference with a clear line.
bench/node_modules/.installed: bench/package.json bench/package-lock.json
	$(Q)cd bench && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

bench-node-deps:
	$(Q)$(MAKE) --no-print-directory bench/node_modules/.installed || \
		echo "bench: the uwebsockets package did not install: the uWS reference will be skipped" >&2

# Runs every scenario against a freshly started stack; BENCH_QUICK=1 for a smoke run.
# node-deps (tests/module.mk) installs the ws package the Node reference server uses.
bench: deps-bench programs node-deps bench-node-deps
	$(Q)bench/run.sh $(BUILD)
