# cvm: the one build entry.
#   make            build build/cvm
#   make test       install dependencies, then run every test plain and under ASan+UBSan,
#                   then one order end to end in QEMU (make e2e), then the standing attack
#                   suite (make hostile), then make demo
#   make hostile    every attack a malicious host can try, against the real binaries
#   make demo       install what the build needs, then run one whole order: the image, a
#                   workload, a key broker, a signed order, cvm run in QEMU (TCG), cvm
#                   result open (scripts/demo-order); then verify a real SEV-SNP report
#   make fuzz       build the libFuzzer targets with clang, run each FUZZ_SECONDS (default 30)
#   make bench      run the benchmarks
#   make install    install into $(DESTDIR)$(PREFIX)
# V=1 shows commands. SAN=1 builds into build/san with ASan+UBSan.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
FUZZ_SECONDS ?= 30
PKG_CONFIG ?= pkg-config

ifeq ($(V),1)
Q :=
else
Q := @
endif

PKGS := libcrypto libssl libcjson libarchive libelf libkmod libcurl libevent libevent_openssl \
	tss2-esys tss2-tctildr tss2-mu tss2-rc libcryptsetup libsecp256k1
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lm
# The agent links its own static libcurl (HTTP(S) over OpenSSL only) and cJSON, built
# from Debian's sources by scripts/build-tcb-deps, and libsecp256k1's static archive:
# the measured image carries none of what Debian's libcurl drags in (docs/initrd.md).
TCB_DEPS ?= $(or $(CVM_TCB_DEPS),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/cvm/tcb-deps)
TCB_STAMP := $(TCB_DEPS)/stamp
AGENT_LIBS := $(TCB_DEPS)/lib/libcurl.a $(TCB_DEPS)/lib/libcjson.a \
	-Wl,-Bstatic -lsecp256k1 -Wl,-Bdynamic \
	$(shell $(PKG_CONFIG) --libs libssl libcrypto tss2-esys tss2-tctildr tss2-mu tss2-rc \
		libcryptsetup 2>/dev/null) -lm
CMOCKA_CFLAGS := $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)

WARN := -std=c17 -Wall -Wextra -Werror -Wshadow -Wvla -Wformat=2
# Paths of the tree are mapped away: where a clone lives changes no byte built from it.
BASE_CFLAGS := $(WARN) -D_GNU_SOURCE -g -I. $(PKG_CFLAGS) -MMD -MP -ffile-prefix-map=$(CURDIR)/=

ifeq ($(SAN),1)
BUILD ?= build/san
OPT_CFLAGS := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
OPT_LDFLAGS := -fsanitize=address,undefined
else
BUILD ?= build
OPT_CFLAGS := -O2 -D_FORTIFY_SOURCE=3 -fstack-protector-strong
OPT_LDFLAGS :=
endif

CFLAGS ?=
LDFLAGS ?=
ALL_CFLAGS := $(BASE_CFLAGS) $(OPT_CFLAGS) -fPIE $(CFLAGS)
# --as-needed: a program needs only the libraries it uses (with the sanitizers too, whose
# runtime would otherwise make every listed library a dependency of the e2e guest programs)
ALL_LDFLAGS := $(OPT_LDFLAGS) -pie -Wl,-z,relro,-z,now -Wl,--as-needed $(LDFLAGS)

CORE_SRC := $(wildcard lib/*.c) $(wildcard measurement/*.c) $(wildcard initrd/*.c) $(wildcard chain/*.c)
HOST_SRC := $(wildcard host/*.c)
# The sim TEE backend goes into test binaries only (cvm-test); cvm has none.
SIM_SRC := agent/tee_sim.c
# cvm-agent's main(); the rest of agent/ is libagent.a.
AGENT_MAIN := agent/cvm_agent.c
AGENT_SRC := $(filter-out $(SIM_SRC) $(AGENT_MAIN),$(wildcard agent/*.c))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
SUPPORT_SRC := $(wildcard tests/unit/support/*.c)
BENCH_SRC := $(wildcard tests/bench/bench_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
E2E_SRC := $(wildcard tests/e2e/*.c)

CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
HOST_OBJ := $(HOST_SRC:%.c=$(BUILD)/obj/%.o)
AGENT_OBJ := $(AGENT_SRC:%.c=$(BUILD)/obj/%.o)
SIM_OBJ := $(SIM_SRC:%.c=$(BUILD)/obj/%.o)
SUPPORT_OBJ := $(SUPPORT_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)
E2E_BIN := $(E2E_SRC:tests/e2e/%.c=$(BUILD)/e2e/%)
LIBCVM := $(BUILD)/libcvm.a
LIBAGENT := $(BUILD)/libagent.a
CVM := $(BUILD)/cvm
CVM_TEST := $(BUILD)/cvm-test
AGENT := $(BUILD)/cvm-agent
AGENT_TEST := $(BUILD)/cvm-agent-test

.PHONY: all test check e2e hostile unit-tests cli-tests demo fuzz bench install clean check-format format deps
.DEFAULT_GOAL := all
.SECONDARY:

all: $(CVM) $(AGENT)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBCVM): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBAGENT): $(AGENT_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(CVM): $(HOST_OBJ) $(LIBAGENT) $(LIBCVM)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(HOST_OBJ) $(LIBAGENT) $(LIBCVM) $(PKG_LIBS)

$(CVM_TEST): $(HOST_OBJ) $(SIM_OBJ) $(LIBAGENT) $(LIBCVM)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(HOST_OBJ) $(SIM_OBJ) $(LIBAGENT) $(LIBCVM) $(PKG_LIBS)

$(TCB_STAMP): scripts/build-tcb-deps
	$(Q)scripts/build-tcb-deps $(TCB_DEPS)

# The agent: production (no sim backend) and the test build the e2e image uses.
# Stripped: the image carries code, not debug information (the objects keep it); its
# .cvm-static section names what it carries statically (cvm initrd tcb).
$(AGENT): $(BUILD)/obj/$(AGENT_MAIN:.c=.o) $(LIBAGENT) $(LIBCVM) $(TCB_STAMP)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -s -o $@ $< $(LIBAGENT) $(LIBCVM) $(AGENT_LIBS)
	$(Q)objcopy --add-section .cvm-static=$(TCB_DEPS)/static.txt $@

$(AGENT_TEST): $(BUILD)/obj/$(AGENT_MAIN:.c=.o) $(SIM_OBJ) $(LIBAGENT) $(LIBCVM) $(TCB_STAMP)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -s -o $@ $< $(SIM_OBJ) $(LIBAGENT) $(LIBCVM) $(AGENT_LIBS)
	$(Q)objcopy --add-section .cvm-static=$(TCB_DEPS)/static.txt $@

$(BUILD)/obj/tests/%.o: ALL_CFLAGS += $(CMOCKA_CFLAGS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(SUPPORT_OBJ) $(SIM_OBJ) $(LIBAGENT) $(LIBCVM)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(SUPPORT_OBJ) $(SIM_OBJ) $(LIBAGENT) $(LIBCVM) \
		$(PKG_LIBS) $(CMOCKA_LIBS)

$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(SIM_OBJ) $(LIBAGENT) $(LIBCVM)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(SIM_OBJ) $(LIBAGENT) $(LIBCVM) $(PKG_LIBS)

# Programs that run inside a QEMU guest (PID 1 of an end-to-end test).
$(BUILD)/e2e/%: $(BUILD)/obj/tests/e2e/%.o $(LIBAGENT) $(LIBCVM)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBAGENT) $(LIBCVM) $(PKG_LIBS)

# The attack suite's own tools (mutators of headers and evidence).
# (failinject.c is the LD_PRELOAD shim below, not a program.)
HOSTILE_SRC := $(filter-out tests/hostile/failinject.c,$(wildcard tests/hostile/*.c))
HOSTILE_BIN := $(HOSTILE_SRC:tests/hostile/%.c=$(BUILD)/hostile/%)
$(BUILD)/hostile/%: $(BUILD)/obj/tests/hostile/%.o $(LIBCVM)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBCVM) $(PKG_LIBS)

deps:
	$(Q)scripts/setup-deps

# One variant: build, then run the unit tests and the command-line tests.
check: $(CVM) $(CVM_TEST) $(AGENT) $(AGENT_TEST) $(UNIT_BIN) $(E2E_BIN)
	$(Q)scripts/run-tests $(BUILD)

# One order end to end in QEMU (TCG): the agent, broker, vTPM, disks and channel are real.
e2e: $(CVM) $(CVM_TEST) $(AGENT) $(AGENT_TEST) $(E2E_BIN)
	$(Q)sh tests/e2e/test_order.sh $(BUILD)
	$(Q)sh tests/e2e/test_image.sh $(BUILD)
	$(Q)sh tests/e2e/test_tutorial.sh $(BUILD)
	$(Q)sh tests/e2e/test_repro.sh $(BUILD)
	$(Q)sh tests/e2e/test_chain.sh $(BUILD)
	$(Q)sh tests/e2e/test_tunnel.sh $(BUILD)

# The attack suite's failure-injection shim (LD_PRELOAD), never sanitized: it wraps libc.
FAILINJECT := $(BUILD)/hostile/failinject.so
$(FAILINJECT): tests/hostile/failinject.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(WARN) -D_GNU_SOURCE -O2 -fPIC -shared -o $@ $< -ldl

# The standing attack suite: one line per attack, then the count (docs/hostile.md).
hostile: $(CVM) $(CVM_TEST) $(AGENT) $(AGENT_TEST) $(E2E_BIN) $(HOSTILE_BIN) $(FAILINJECT)
	$(Q)tests/hostile/run $(BUILD)

test: deps
	$(Q)$(MAKE) --no-print-directory check-format
	$(Q)$(MAKE) --no-print-directory check
	$(Q)$(MAKE) --no-print-directory check SAN=1
	$(Q)$(MAKE) --no-print-directory e2e
	$(Q)$(MAKE) --no-print-directory hostile
	$(Q)$(MAKE) --no-print-directory demo

# The guest carries the test agent (sim evidence): there is no TDX or SEV-SNP here.
# make demo CHAIN=1: the order goes through an EVM chain (a local anvil node).
demo: deps
	$(Q)$(MAKE) --no-print-directory all $(AGENT_TEST) $(E2E_BIN)
	$(Q)scripts/demo-order $(BUILD) $(if $(CHAIN),--chain)
	$(Q)scripts/demo $(CVM)

bench: $(BENCH_BIN) $(CVM) $(CVM_TEST) $(AGENT) $(AGENT_TEST) $(E2E_BIN)
	$(Q)for b in $(BENCH_BIN); do $$b || exit 1; done
	$(Q)scripts/bench-sev-snp-measure $(CVM)
	$(Q)scripts/bench-initrd $(CVM)
	$(Q)scripts/bench-boot $(CVM)
	$(Q)scripts/bench-agent $(BUILD)

# libFuzzer needs clang; the core is rebuilt with the fuzzer's instrumentation.
FUZZ_BUILD := build/fuzz
FUZZ_CFLAGS := $(WARN) -D_GNU_SOURCE -g -O1 -I. $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

# Targets of agent/ parsers name the one agent source they need.
$(FUZZ_BUILD)/fuzz_agent_config: FUZZ_EXTRA := agent/config.c
$(FUZZ_BUILD)/fuzz_job_manifest: FUZZ_EXTRA := agent/job_manifest.c
# the OCI unpacker includes host/oci.c; what it makes is checked by the job manifest's parser
$(FUZZ_BUILD)/fuzz_oci: FUZZ_EXTRA := agent/job_manifest.c
# the sim's launch file: tee_sim.c and the backends it reaches through tee.c
$(FUZZ_BUILD)/fuzz_sim_launch: FUZZ_EXTRA := agent/tee_sim.c agent/tee.c agent/tee_tpm.c agent/tee_az.c \
	agent/tee_kernel.c
# the az backend's HCL report: tee_az.c is compiled in, with the backends tee.c reaches
$(FUZZ_BUILD)/fuzz_tee_az_hcl: FUZZ_EXTRA := agent/tee.c agent/tee_tpm.c agent/tee_kernel.c
# fuzz_run_status includes host/run*.c and what they call
$(FUZZ_BUILD)/fuzz_run_status: $(wildcard host/*.[ch])

$(FUZZ_BUILD)/%: tests/fuzz/%.c $(CORE_SRC) $(wildcard lib/*.h measurement/*.h initrd/*.h chain/*.h agent/*.[ch])
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_EXTRA) $(CORE_SRC) $(PKG_LIBS)

fuzz: deps $(FUZZ_BIN)
	$(Q)scripts/run-fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

install: $(CVM) $(AGENT)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(CVM) $(DESTDIR)$(BINDIR)/cvm
	install -m 0644 docs/man/*.1 $(DESTDIR)$(MANDIR)/man1/

FORMAT_SRC = $(wildcard lib/*.[ch] measurement/*.[ch] initrd/*.[ch] chain/*.[ch] agent/*.[ch] host/*.[ch] tests/*/*.[ch] tests/unit/support/*.[ch])

check-format:
	$(Q)clang-format --dry-run --Werror $(FORMAT_SRC)
	$(Q)scripts/checksrc

format:
	$(Q)clang-format -i $(FORMAT_SRC)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
