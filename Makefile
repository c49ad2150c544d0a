# madang — top-level Makefile.
#
#   make            build every daemon and tool into build/bin
#   make test       install the test packages (apt, npm) if missing, build, run every test suite
#                   (unit, integration, e2e); ends with a summary line. SUITE=name runs some.
#   make check      the same suites on a machine already set up: never calls apt or npm (a missing
#                   package fails the suites that need it). SUITE=name as for make test.
#   make run        build and start the whole stack behind a private nginx on http://127.0.0.1:8080/
#   make bench      run the benchmarks against a freshly started stack
#   make fuzz       run the libFuzzer targets for a while
#   make install    PREFIX=/usr/local DESTDIR=... ; make uninstall
#   make format     clang-format every C file
#
# Switches: V=1 (echo commands), SANITIZE=address|undefined|address,undefined, DEBUG=1 (-O0),
# CC=clang. Each component lives in its own folder with a module.mk that adds its targets.

comma     := ,
BUILD     ?= build
ifneq ($(SANITIZE),)
BUILD     := $(BUILD)/san-$(subst $(comma),-,$(SANITIZE))
endif
BIN       := $(BUILD)/bin
OBJ       := $(BUILD)/obj
PREFIX    ?= /usr/local
DESTDIR   ?=

CC        ?= cc
PKG_CONFIG ?= pkg-config

ifeq ($(V),1)
Q :=
else
Q := @
endif

OPT       := $(if $(DEBUG),-O0,-O2)
CFLAGS    ?= $(OPT) -g
WARN      := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
             -Wno-unused-parameter
CPPFLAGS  += -D_GNU_SOURCE -iquote common -MMD -MP
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) -fno-strict-aliasing
LDFLAGS   ?=

ifneq ($(SANITIZE),)
CFLAGS    += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS   += -fsanitize=$(SANITIZE)
endif

# Library flags. nng ships no pkg-config file in Debian 12, so it is linked by name.
pc = $(shell $(PKG_CONFIG) --$(1) $(2) 2>/dev/null)
# $(eval $(call pc_once,VAR,cflags|libs,PACKAGE,FALLBACK)) defines VAR to ask pkg-config when it
# is first expanded, and to keep the answer. Asked when the Makefile is read, it would answer
# nothing on a fresh machine whose -dev packages this same `make test` or `make run` installs
# (deps, before any compile: objects are order-only on it), and libpq's header directory, say,
# would be missing from the compiles. Every variable built on these is recursive (=) for the
# same reason, the modules' EXTRA_CFLAGS_* included.
define pc_once
$(1) = $$(eval $(1) := $$(or $$(call pc,$(2),$(3)),$(4)))$$($(1))
endef
$(eval $(call pc_once,CJSON_CFLAGS,cflags,libcjson))
$(eval $(call pc_once,CJSON_PC_LIBS,libs,libcjson,-lcjson))
$(eval $(call pc_once,LWS_CFLAGS,cflags,libwebsockets))
$(eval $(call pc_once,LWS_PC_LIBS,libs,libwebsockets,-lwebsockets))
$(eval $(call pc_once,FCGI_CFLAGS,cflags,fcgi))
$(eval $(call pc_once,FCGI_LIBS,libs,fcgi,-lfcgi))
$(eval $(call pc_once,CMOCKA_CFLAGS,cflags,cmocka))
$(eval $(call pc_once,CMOCKA_LIBS,libs,cmocka,-lcmocka))
$(eval $(call pc_once,CRYPTO_LIBS,libs,libcrypto,-lcrypto))
$(eval $(call pc_once,SSL_LIBS,libs,libssl,-lssl))
$(eval $(call pc_once,SQLITE_LIBS,libs,sqlite3,-lsqlite3))
$(eval $(call pc_once,PQ_CFLAGS,cflags,libpq))
$(eval $(call pc_once,PQ_LIBS,libs,libpq,-lpq))
NNG_LIBS      = -lnng -lpthread
LWS_LIBS      = $(LWS_PC_LIBS) -lev # --event-loop libev (ws-frontend/server.c)
# GNU libunistring (Unicode normalisation and case folding of names, common/validate.c); Debian
# ships no pkg-config file for it. Every link line that takes common/ also takes cJSON (common/
# needs both), so libunistring rides along in CJSON_LIBS.
UNISTRING_LIBS := -lunistring
CJSON_LIBS    = $(CJSON_PC_LIBS) $(UNISTRING_LIBS)

# The recipe of a static library: the archive is written afresh from exactly the objects among
# its prerequisites. `ar rcs` on an old archive keeps the members of sources since moved or
# removed, and a link may then take a stale member's symbols (a moved tombstone.c did: the old
# one's tombstone_json, with fewer parameters, won). Each library also depends on the module.mk
# that lists its sources (common/, which takes them all by wildcard, on its folder), so that a
# shorter list rewrites it too.
define archive
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $(filter %.o,$^)
endef

# Per-module variables filled by the module.mk files.
PROGRAMS  :=
CORE_LIBS :=
TEST_BINS :=
DEPS      :=

.PHONY: all programs test-bins deps deps-test deps-bench bench-node-deps test check run bench fuzz install uninstall format clean
all: deps programs

# Compile rule shared by every module: build/obj/<path>.o from <path>.c. Order-only on deps, so
# that `make -j` on a fresh machine installs the -dev packages before the first compile.
$(OBJ)/%.o: %.c | deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(EXTRA_CFLAGS_$(firstword $(subst /, ,$<))) -c $< -o $@

include common/module.mk
include $(wildcard broker/module.mk ws-frontend/module.mk rest-fcgi/module.mk bench/module.mk)
include $(wildcard tests/module.mk)
include $(wildcard mk/*.mk)

programs: $(PROGRAMS)

# Keep intermediate objects (pattern-built chains would delete them otherwise).
.SECONDARY:

# Installs missing Debian packages (quiet and quick when nothing is missing); never under
# `make check`, which is for a machine already set up, nor in the makes its suites run
# (80-sanitizers, 61-install: check exports MADANG_NO_DEPS=1 to them).
deps:
ifeq ($(filter check,$(MAKECMDGOALS))$(MADANG_NO_DEPS),)
	$(Q)scripts/install-deps.sh build
endif
deps-test: deps
	$(Q)scripts/install-deps.sh build test
deps-bench: deps
	$(Q)scripts/install-deps.sh build bench

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

-include $(DEPS)

# The whole stack in the foreground on http://127.0.0.1:$(PORT)/ (PORT=8080 by default).
run: deps programs
	$(Q)scripts/install-deps.sh run
	$(Q)scripts/run.sh
