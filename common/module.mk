# common/ — the static library every daemon and test links.
COMMON_SRCS := $(wildcard common/*.c)
COMMON_OBJS := $(COMMON_SRCS:%.c=$(OBJ)/%.o)
COMMON_LIB  := $(BUILD)/lib/libmadang-common.a
EXTRA_CFLAGS_common = $(CJSON_CFLAGS)
DEPS += $(COMMON_OBJS:.o=.d)

$(COMMON_LIB): $(COMMON_OBJS) common/module.mk common
	$(archive)

# The version every binary's --version prints (common/opt.c). Built from git: `git describe`
# of the tags, or MADANG_RELEASE-g<commit> when no tag is reachable, "-dirty" with local changes;
# built from a tree without git: MADANG_RELEASE. `make MADANG_VERSION=x.y.z` overrides both.
MADANG_RELEASE := 0.1.0
MADANG_VERSION ?= $(shell { git describe --tags --dirty 2>/dev/null || \
	{ h=$$(git rev-parse --short HEAD 2>/dev/null) && \
	  echo "$(MADANG_RELEASE)-g$$h$$(git diff --quiet HEAD 2>/dev/null || echo -dirty)"; } || \
	echo "$(MADANG_RELEASE)"; } | tr -cd 'A-Za-z0-9._+-')
# opt.o is rebuilt when the version changes: the stamp is rewritten only then.
VERSION_STAMP := $(BUILD)/version.stamp
$(shell mkdir -p $(BUILD) && [ "$$(cat $(VERSION_STAMP) 2>/dev/null)" = "$(MADANG_VERSION)" ] || \
	echo "$(MADANG_VERSION)" >$(VERSION_STAMP))
$(OBJ)/common/opt.o: $(VERSION_STAMP)
$(OBJ)/common/opt.o: CPPFLAGS += -DMADANG_VERSION='"$(MADANG_VERSION)"'

# common/tls.c checks certificates and keys with OpenSSL's libcrypto (nng's mbedTLS does not
# check that a key matches its certificate): every program that links nng may call it.
NNG_LIBS += $(CRYPTO_LIBS)
