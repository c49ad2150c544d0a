# make fuzz — libFuzzer targets (clang) under AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   make fuzz                   build every target and run each for FUZZ_SECONDS (default 60)
#   make fuzz FUZZ_SECONDS=10   shorter; `make fuzz-smoke` runs each for 10 s (used by make test)
#
# Target sources are tests/fuzz/fuzz_<name>.c with a seed corpus in tests/fuzz/corpus/<name>/;
# new inputs the fuzzer finds go to build/fuzz/corpus/<name>/, crashes to build/fuzz/crashes/.
# A crash found once is kept as tests/fuzz/regress/<name>-*.bin and replayed by the unit suite.
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build/fuzz
FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES   := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)
FUZZ_FLAGS   := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined

.PHONY: fuzz fuzz-bins fuzz-smoke
# Builds the targets in a separate tree with clang and the sanitizers (a recursive make). Installs
# clang first when missing, but not under `make check` (its suites get MADANG_NO_DEPS=1), which
# never calls apt.
fuzz-bins:
ifeq ($(MADANG_NO_DEPS),)
	$(Q)scripts/install-deps.sh build test
endif
	$(Q)$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang \
		CFLAGS="-O1 -g $(FUZZ_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
		$(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz/fuzz_%)

$(BUILD)/fuzz/fuzz_%: $(OBJ)/tests/fuzz/fuzz_%.o $(CORE_LIBS) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(TEST_LDLIBS)

fuzz: fuzz-bins
	$(Q)for n in $(FUZZ_NAMES); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$n $(FUZZ_BUILD)/crashes; \
		echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
		$(FUZZ_BUILD)/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=5 \
			-rss_limit_mb=2048 -artifact_prefix=$(FUZZ_BUILD)/crashes/$$n- -print_final_stats=1 \
			$(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n 2>&1 | tail -n 12 || exit 1; \
	done

fuzz-smoke:
	$(Q)$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10
