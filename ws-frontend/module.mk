# ws-frontend/ — madang-ws, the libwebsockets front-end (docs/protocol.md).
#
# The pure core (command parsing, token bucket, framed-event log, room and session bookkeeping,
# address lists, the delivery and slow-consumer decisions) is
# libmadang-ws-core.a, linked by the unit tests; the daemon adds the shell around it, in one-way
# layers (scripts/layers.sh checks):
#   ws_main → ws_glue (lws callbacks, loop) + ws_http → ws_conn (handshake, reassembly,
#   keep-alive, reap) → ws_client (commands) + ws_history → ws_request (their requests and
#   replies) → ws_members (joins, leaves) → ws_delivery (events, seq, repair) + ws_wait (clients
#   waiting for the broker) → ws_link (hello, heartbeat, sync, event stream) → ws_rpc
#   (requests; ws_slot keeps their nng contexts) → ws_out (queueing, writing) → ws_state → the
#   core.
WS_CORE_SRCS := ws-frontend/frame.c ws-frontend/linkstate.c ws-frontend/policy.c ws-frontend/roomlog.c ws-frontend/bucket.c \
                ws-frontend/cmd.c ws-frontend/route.c ws-frontend/netacl.c ws-frontend/room.c \
                ws-frontend/session.c
WS_SHELL_SRCS := $(filter-out $(WS_CORE_SRCS),$(wildcard ws-frontend/*.c))
WS_CORE_OBJS := $(WS_CORE_SRCS:%.c=$(OBJ)/%.o)
WS_SHELL_OBJS := $(WS_SHELL_SRCS:%.c=$(OBJ)/%.o)
WS_CORE_LIB := $(BUILD)/lib/libmadang-ws-core.a
EXTRA_CFLAGS_ws-frontend = $(CJSON_CFLAGS) $(LWS_CFLAGS) -Iws-frontend

PROGRAMS  += $(BIN)/madang-ws
CORE_LIBS += $(WS_CORE_LIB)
DEPS      += $(WS_CORE_OBJS:.o=.d) $(WS_SHELL_OBJS:.o=.d)

$(WS_CORE_LIB): $(WS_CORE_OBJS) ws-frontend/module.mk
	$(archive)

$(BIN)/madang-ws: $(WS_SHELL_OBJS) $(WS_CORE_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LWS_LIBS) $(NNG_LIBS) $(CJSON_LIBS) $(CRYPTO_LIBS) -lm

# A test helper: a WebSocket client with a tiny receive buffer that never reads
# (tests/integration/ws/sleeper.c, used by the slow-consumer test).
TEST_BINS += $(BUILD)/tests/ws-sleeper
DEPS += $(OBJ)/tests/integration/ws/sleeper.d
$(BUILD)/tests/ws-sleeper: $(OBJ)/tests/integration/ws/sleeper.o
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^
