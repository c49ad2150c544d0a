# tools/ — small programs shipped with madang.
#   madang-token  mints HS256 tokens for --jwt-secret-file (tools/token.c)
TOOLS_OBJS := $(OBJ)/tools/token.o
EXTRA_CFLAGS_tools = $(CJSON_CFLAGS)
PROGRAMS += $(BIN)/madang-token
DEPS     += $(TOOLS_OBJS:.o=.d)

$(BIN)/madang-token: $(OBJ)/tools/token.o $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CJSON_LIBS) $(CRYPTO_LIBS)
