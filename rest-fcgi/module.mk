# rest-fcgi/ — madang-api, the FastCGI REST responder (libfcgi).
#
# libmadang-api-core.a is the pure part (request parsing, router, endpoint logic, JSON and
# Prometheus output, the embedded OpenAPI document), unit-tested by tests/unit/test_api_*.c;
# madang-api adds the sockets, worker threads and signals around it.
API_CORE_SRCS := rest-fcgi/request.c rest-fcgi/router.c rest-fcgi/metrics.c rest-fcgi/api.c \
                 rest-fcgi/endpoints.c rest-fcgi/moderation.c rest-fcgi/reply.c
API_CORE_OBJS := $(API_CORE_SRCS:%.c=$(OBJ)/%.o) $(BUILD)/gen/rest-fcgi/openapi_data.o
API_CORE_LIB  := $(BUILD)/lib/libmadang-api-core.a
API_SRCS      := rest-fcgi/main.c rest-fcgi/server.c rest-fcgi/listen.c
API_OBJS      := $(API_SRCS:%.c=$(OBJ)/%.o)
EXTRA_CFLAGS_rest-fcgi = $(FCGI_CFLAGS) $(CJSON_CFLAGS)

PROGRAMS  += $(BIN)/madang-api
CORE_LIBS += $(API_CORE_LIB)
DEPS      += $(API_CORE_SRCS:%.c=$(OBJ)/%.d) $(API_OBJS:.o=.d)

# openapi.json becomes a C array (od is in coreutils), so the binary serves it without files.
$(BUILD)/gen/rest-fcgi/openapi_data.c: rest-fcgi/openapi.json
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GEN     $@")
	$(Q){ printf '/* generated from rest-fcgi/openapi.json by rest-fcgi/module.mk */\n'; \
	  printf '#include "openapi.h"\nconst char api_openapi_json[] = {\n'; \
	  od -An -v -tx1 < $< | sed -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  printf '0x00};\nconst size_t api_openapi_json_len = sizeof(api_openapi_json) - 1;\n'; \
	} > $@.tmp && mv $@.tmp $@

# (order-only on deps, as the shared compile rule: `make -j` on a fresh machine installs the
# compiler first)
$(BUILD)/gen/rest-fcgi/openapi_data.o: $(BUILD)/gen/rest-fcgi/openapi_data.c rest-fcgi/openapi.h | deps
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) -D_GNU_SOURCE -Irest-fcgi $(ALL_CFLAGS) -c $< -o $@

$(API_CORE_LIB): $(API_CORE_OBJS) rest-fcgi/module.mk
	$(archive)

$(BIN)/madang-api: $(API_OBJS) $(API_CORE_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(FCGI_LIBS) $(CJSON_LIBS) $(NNG_LIBS) $(CRYPTO_LIBS) -lm
