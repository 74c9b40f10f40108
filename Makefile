# Makefile — builds libsockit (static + shared), the sockit CLI, the tests and
# the fuzz targets. `make test` runs everything; `make asan` runs it all under
# AddressSanitizer + UBSan in a separate build directory.

CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := 0.1.0
SOMAJOR := 0

WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -fPIC $(WARN) -Iinclude -Isrc $(CFLAGS) \
              -DSOCKIT_VERSION=\"$(VERSION)\"
LDLIBS  := -lpthread
# TLS (tls://, wss://): OpenSSL 3, found with pkg-config (scripts/install-deps.sh installs libssl-dev).
SSL_CFLAGS := $(shell pkg-config --cflags openssl 2>/dev/null)
SSL_LIBS   := $(shell pkg-config --libs openssl 2>/dev/null || echo -lssl -lcrypto)
ALL_CFLAGS += $(SSL_CFLAGS)
LDLIBS  += $(SSL_LIBS)
# Compression (permessage-deflate, --compress deflate|zstd): zlib and libzstd;
# the chat cluster (--cluster redis://): hiredis. All found with pkg-config
# (scripts/install-deps.sh installs zlib1g-dev, libzstd-dev, libhiredis-dev).
EXT_PKGS   := zlib libzstd hiredis
EXT_CFLAGS := $(shell pkg-config --cflags $(EXT_PKGS) 2>/dev/null)
EXT_LIBS   := $(shell pkg-config --libs $(EXT_PKGS) 2>/dev/null || echo -lz -lzstd -lhiredis)
ALL_CFLAGS += $(EXT_CFLAGS)
LDLIBS  += $(EXT_LIBS)
# io_uring backend (--io uring) when liburing is installed (scripts/install-deps.sh).
URING   := $(shell pkg-config --exists liburing 2>/dev/null && echo yes)
ifeq ($(URING),yes)
ALL_CFLAGS += -DSK_HAVE_URING $(shell pkg-config --cflags liburing)
LDLIBS  += $(shell pkg-config --libs liburing)
endif

LIB_SRC := $(sort $(wildcard src/net/*.c src/proto/*.c src/services/*.c src/util/*.c))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
HELPER_SRC := $(sort $(wildcard tests/helpers/*.c))
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HELPER_BIN := $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/%)
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: all deps run test unit asan fuzz install clean valgrind cluster-demo test-vm
all: $(BUILD)/sockit $(BUILD)/libsockit.a $(BUILD)/libsockit.so $(BUILD)/sockit.1 $(BUILD)/sockit.bash

deps:
	@scripts/install-deps.sh

# Library objects hide every symbol but the SK_EXTERN ones (include/sockit/
# export.h), so libsockit.so exports only the public sk_ API. Static linking
# (CLI, unit tests) still resolves the internal sk__ functions.
$(LIB_OBJ): ALL_CFLAGS += -fvisibility=hidden
# The flags live here: objects built with older ones are rebuilt.
$(LIB_OBJ) $(CLI_OBJ): Makefile

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libsockit.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libsockit.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libsockit.so.$(SOMAJOR) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/sockit: $(CLI_OBJ) $(BUILD)/libsockit.a
	$(CC) $(ALL_CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libsockit.a $(LDFLAGS) $(LDLIBS)

# The man page and the bash completion come from the CLI's own option table
# (sockit --man, sockit --completion bash): they cannot drift from --help.
$(BUILD)/sockit.1: $(BUILD)/sockit
	$(BUILD)/sockit --man > $@.tmp && mv $@.tmp $@

$(BUILD)/sockit.bash: $(BUILD)/sockit
	$(BUILD)/sockit --completion bash > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libsockit.a tests/unit/check.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libsockit.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: tests/helpers/%.c $(BUILD)/libsockit.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libsockit.a $(LDFLAGS) $(LDLIBS)

# The main job: install what is missing, build, and run the chat gateway on
# loopback: terminals join over TCP, browsers over WebSocket (page at /).
run: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/sockit serve chat tcp://127.0.0.1:8080 ws://127.0.0.1:8081/ -v

# The chat room across machines, on this one: redis-server, three nodes and
# HAProxy in front (scripts/cluster-demo.sh; README "Chat across machines").
cluster-demo: all
	scripts/cluster-demo.sh

unit: all $(UNIT_BIN) $(HELPER_BIN)

test: deps
	@$(MAKE) --no-print-directory unit
	@SOCKIT_BUILD=$(BUILD) tests/run.sh

# Sanitizers: a separate build dir so normal and asan objects never mix.
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan: deps
	@$(MAKE) --no-print-directory unit BUILD=build-asan CFLAGS="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined"
	@SOCKIT_BUILD=build-asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 tests/run.sh

# Opt-in: the TLS tests in a VM whose kernel has the tls module (kTLS runs for
# real there; this machine's kernel lacks it). tests/vm/README.md.
VM_TESTS := test_tls test_tls_edges test_tls_peers test_tls_ws test_bench_tls
test-vm: deps all
	@tests/vm/setup.sh
	@tests/vm/run_in_vm.sh --timeout 2400 -- env SOCKIT_BUILD=$(BUILD) \
	  tests/run.sh integration $(VM_TESTS)

# Integration tests once more under valgrind's memcheck (leaks are errors).
valgrind: deps all
	@SOCKIT_BUILD=$(BUILD) SOCKIT_VALGRIND=1 tests/run.sh integration

# libFuzzer targets (clang); each gets a short run from its seed corpus.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -Iinclude -Isrc -g -O1 -fsanitize=fuzzer,address,undefined
$(BUILD)/fuzz/%: fuzz/%.c $(LIB_SRC) $(wildcard src/cli/*.c src/cli/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(SSL_CFLAGS) $(EXT_CFLAGS) -o $@ $< $(LIB_SRC) -lpthread $(SSL_LIBS) $(EXT_LIBS)

FUZZ_SECONDS ?= 20
fuzz: deps $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
	  n=$$(basename $$f); mkdir -p $(BUILD)/corpus/$$n; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=4096 $(BUILD)/corpus/$$n fuzz/seeds/$$n \
	    > $(BUILD)/fuzz/$$n.log 2>&1 || { tail -n 40 $(BUILD)/fuzz/$$n.log; exit 1; }; \
	  tail -n 2 $(BUILD)/fuzz/$$n.log; \
	done

# make install [PREFIX=/usr/local] [DESTDIR=staging dir]: the CLI, the static
# library, the shared one as libsockit.so.VERSION with the soname link
# libsockit.so.0 (what programs load) and the development link libsockit.so
# (what -lsockit finds), the headers, sockit.pc, the man page sockit(1) and
# the bash completion (share/bash-completion/completions/sockit). The .pc's prefix is
# PREFIX: DESTDIR only stages the files, as packagers expect.
INSTDIR := $(DESTDIR)$(PREFIX)
install: all
	install -d $(INSTDIR)/bin $(INSTDIR)/lib/pkgconfig $(INSTDIR)/include/sockit \
	  $(INSTDIR)/share/man/man1 $(INSTDIR)/share/bash-completion/completions
	install -m 644 $(BUILD)/sockit.1 $(INSTDIR)/share/man/man1/sockit.1
	install -m 644 $(BUILD)/sockit.bash $(INSTDIR)/share/bash-completion/completions/sockit
	install -m 755 $(BUILD)/sockit $(INSTDIR)/bin/sockit
	install -m 644 $(BUILD)/libsockit.a $(INSTDIR)/lib/libsockit.a
	install -m 755 $(BUILD)/libsockit.so $(INSTDIR)/lib/libsockit.so.$(VERSION)
	ln -sf libsockit.so.$(VERSION) $(INSTDIR)/lib/libsockit.so.$(SOMAJOR)
	ln -sf libsockit.so.$(SOMAJOR) $(INSTDIR)/lib/libsockit.so
	install -m 644 include/sockit/*.h $(INSTDIR)/include/sockit/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@LIBS@|$(LDLIBS)|' sockit.pc.in \
	  > $(INSTDIR)/lib/pkgconfig/sockit.pc

clean:
	rm -rf build build-asan

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
