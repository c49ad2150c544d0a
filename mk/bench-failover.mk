# madang-bench-failover — how long a broker failover on a PostgreSQL store stops chat
# (bench/failover-bench.c, issue 20; run by bench/failover.sh).
BENCH_FAILOVER_OBJS := $(OBJ)/bench/failover-bench.o
PROGRAMS += $(BIN)/madang-bench-failover
DEPS     += $(BENCH_FAILOVER_OBJS:.o=.d)

$(BIN)/madang-bench-failover: $(BENCH_FAILOVER_OBJS) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CJSON_LIBS) $(NNG_LIBS)
