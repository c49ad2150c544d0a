# tests/ — unit-test binaries (cmocka), test helpers and the integration programs.
#
# tests/unit/test_<name>.c      -> build/tests/test_<name>    (run by tests/suites/10-unit.sh)
# tests/integration/it_<name>.c -> build/tests/it_<name>      (run by the integration suites)
# Both link the components' pure-core libraries ($(CORE_LIBS)) and common/.
TESTBIN := $(BUILD)/tests
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
IT_SRCS   := $(wildcard tests/integration/it_*.c)
TEST_LIB_SRCS := $(filter-out tests/lib/freeport.c tests/lib/broker-rpc.c tests/lib/nng_close_hang.c \
                   tests/lib/sp_epipe.c,\
                   $(wildcard tests/lib/*.c))
TEST_LIB_OBJS := $(TEST_LIB_SRCS:%.c=$(OBJ)/%.o)
TEST_BINS += $(UNIT_SRCS:tests/unit/%.c=$(TESTBIN)/%) $(IT_SRCS:tests/integration/%.c=$(TESTBIN)/%) \
             $(TESTBIN)/freeport $(TESTBIN)/broker-rpc $(TESTBIN)/nng-close-hang.so $(TESTBIN)/sp-epipe.so
EXTRA_CFLAGS_tests = -iquote . $(CJSON_CFLAGS) $(CMOCKA_CFLAGS) $(LWS_CFLAGS) $(FCGI_CFLAGS) -Itests/lib
TEST_LDLIBS = $(CJSON_LIBS) $(NNG_LIBS) $(LWS_LIBS) $(FCGI_LIBS) $(SSL_LIBS) $(CRYPTO_LIBS) \
               $(SQLITE_LIBS) $(CMOCKA_LIBS) -lm
DEPS += $(UNIT_SRCS:%.c=$(OBJ)/%.d) $(IT_SRCS:%.c=$(OBJ)/%.d) $(TEST_LIB_OBJS:.o=.d)

$(TESTBIN)/test_%: $(OBJ)/tests/unit/test_%.o $(TEST_LIB_OBJS) $(CORE_LIBS) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LDLIBS)

$(TESTBIN)/it_%: $(OBJ)/tests/integration/it_%.o $(TEST_LIB_OBJS) $(CORE_LIBS) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LDLIBS)

# The helpers below compile straight from their source, outside the shared compile rule: they
# too wait for deps (`make -j` on a fresh machine installs the compiler first).
$(TESTBIN)/freeport $(TESTBIN)/broker-rpc $(TESTBIN)/nng-close-hang.so $(TESTBIN)/sp-epipe.so: | deps

$(TESTBIN)/freeport: tests/lib/freeport.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $<

# One request to a broker, its reply on stdout (tests that set up owners and moderators).
$(TESTBIN)/broker-rpc: tests/lib/broker-rpc.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(NNG_LIBS)

# An LD_PRELOAD shim whose nng_close never returns (the stop guard's tests). No sanitizer flags:
# it is preloaded into the plain and the sanitized daemons alike.
$(TESTBIN)/nng-close-hang.so: tests/lib/nng_close_hang.c
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -Wall -Wextra -shared -fPIC -o $@ $<

# An LD_PRELOAD shim that fails nng's handshake writes with EPIPE while a file exists (the
# tests of common/redial.c); no sanitizer flags, as above.
$(TESTBIN)/sp-epipe.so: tests/lib/sp_epipe.c
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -Wall -Wextra -shared -fPIC -o $@ $< -ldl

# Fuzz targets replayed over their seed corpus and saved crashes with the normal compiler
# (tests/fuzz/replay.c); libFuzzer builds are in mk/fuzz.mk.
REPLAY_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
TEST_BINS   += $(REPLAY_SRCS:tests/fuzz/fuzz_%.c=$(TESTBIN)/replay_%)
DEPS        += $(REPLAY_SRCS:%.c=$(OBJ)/%.d) $(OBJ)/tests/fuzz/replay.d

$(TESTBIN)/replay_%: $(OBJ)/tests/fuzz/fuzz_%.o $(OBJ)/tests/fuzz/replay.o $(CORE_LIBS) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LDLIBS)

test-bins: $(TEST_BINS)

# Everything, then every suite; SUITE=name runs only the suites whose name contains it.
test: deps-test programs test-bins
	$(Q)tests/run.sh $(BUILD) $(SUITE)

# The same suites on a machine already set up (make test ran once, or the packages are there):
# builds what changed, installs nothing (no apt, no npm; see deps in the Makefile).
check: programs test-bins
	$(Q)MADANG_NO_DEPS=1 tests/run.sh $(BUILD) $(SUITE)

# Node packages for the WebSocket and browser tests (ws, playwright-core), pinned by
# tests/package-lock.json; installed once, again when the lock file changes.
tests/node_modules/.installed: tests/package.json tests/package-lock.json
	$(Q)cd tests && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

node-deps: tests/node_modules/.installed
test: node-deps

# test_ws_slot: madang-ws's kept nng contexts (ws-frontend/ws_slot.c, outside its core library).
$(TESTBIN)/test_ws_slot: $(OBJ)/ws-frontend/ws_slot.o

# test_tlsheld: the broker's TLS handshake time limit (broker/tlsheld.c, outside its core library).
$(TESTBIN)/test_tlsheld: $(OBJ)/broker/tlsheld.o

# test_ws_rpc: madang-ws's broker requests held back while one is in flight (ws-frontend/ws_rpc.c
# and ws_slot.c, outside its core library: linked before it, which they call; not tests/lib,
# whose helpers use common/rpc.c, the same names as ws_rpc.c).
$(TESTBIN)/test_ws_rpc: $(OBJ)/tests/unit/test_ws_rpc.o $(OBJ)/ws-frontend/ws_rpc.o \
                        $(OBJ)/ws-frontend/ws_slot.o $(CORE_LIBS) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LDLIBS)
