# madang-bench-broker — chat messages/s through the broker alone (bench/broker-bench.c).
BENCH_BROKER_OBJS := $(OBJ)/bench/broker-bench.o
EXTRA_CFLAGS_bench += $(CJSON_CFLAGS)
PROGRAMS += $(BIN)/madang-bench-broker
DEPS     += $(BENCH_BROKER_OBJS:.o=.d)

$(BIN)/madang-bench-broker: $(BENCH_BROKER_OBJS) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CJSON_LIBS) $(NNG_LIBS) -lm
