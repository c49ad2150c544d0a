# common/ — the static library every daemon and test links.
COMMON_SRCS := $(wildcard common/*.c)
COMMON_OBJS := $(COMMON_SRCS:%.c=$(OBJ)/%.o)
COMMON_LIB  := $(BUILD)/lib/libmadang-common.a
EXTRA_CFLAGS_common := $(CJSON_CFLAGS)
DEPS += $(COMMON_OBJS:.o=.d)

$(COMMON_LIB): $(COMMON_OBJS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AR      $@")
	$(Q)$(AR) rcs $@ $^
