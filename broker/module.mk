# broker/ — madang-broker. The state core (no I/O) is a library that the unit tests link too.
BROKER_CORE_SRCS := broker/broker.c broker/room.c broker/frontend.c broker/names.c broker/ops.c \
                    broker/ops_args.c broker/ops_frontends.c broker/ops_members.c \
                    broker/ops_messages.c broker/ops_rooms.c broker/ops_history.c broker/ops_stats.c \
                    broker/mod.c broker/restrict.c broker/ops_actor.c broker/ops_mod.c broker/ops_modroom.c \
                    broker/hist.c broker/pgutil.c
BROKER_CORE_OBJS := $(BROKER_CORE_SRCS:%.c=$(OBJ)/%.o)
BROKER_CORE_LIB  := $(BUILD)/lib/libmadang-broker-core.a
BROKER_SRCS      := broker/server.c broker/listen.c broker/tlsheld.c broker/store.c broker/store_sqlite.c broker/store_pg.c broker/store_pg_data.c \
                    broker/main.c
BROKER_OBJS      := $(BROKER_SRCS:%.c=$(OBJ)/%.o)
EXTRA_CFLAGS_broker = $(CJSON_CFLAGS) $(PQ_CFLAGS)
PROGRAMS  += $(BIN)/madang-broker
CORE_LIBS += $(BROKER_CORE_LIB)
DEPS      += $(BROKER_CORE_OBJS:.o=.d) $(BROKER_OBJS:.o=.d)

$(BROKER_CORE_LIB): $(BROKER_CORE_OBJS) broker/module.mk
	$(archive)

$(BIN)/madang-broker: $(BROKER_OBJS) $(BROKER_CORE_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CJSON_LIBS) $(NNG_LIBS) $(SQLITE_LIBS) $(PQ_LIBS) -lm

# madang-port-sqlite: a stopped broker's SQLite data directory into a PostgreSQL store.
PORT_OBJS := $(OBJ)/broker/port_sqlite.o $(BROKER_CORE_LIB)
PROGRAMS  += $(BIN)/madang-port-sqlite
DEPS      += $(OBJ)/broker/port_sqlite.d

$(BIN)/madang-port-sqlite: $(PORT_OBJS) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CJSON_LIBS) $(SQLITE_LIBS) $(PQ_LIBS) -lm
