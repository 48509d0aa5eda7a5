# SPDX-License-Identifier: GPL-2.0
#
# kvmig top-level build.  Everything lands in build/:
#   build/bin/        kvmig-vm (and later kvmig)
#   build/lib/        libkvmig.a, libkvmig.so
#   build/tests/      test programs (TAP)
#   build/asan/       the same library and tests under ASan + UBSan
#   build/tsan/       ... and under ThreadSanitizer
#
# make            build everything
# make deps       install the Debian packages the project needs
# make check      deps + build + every test (+ the sanitizer build)
# make check-stress  the user-space tests, 3 times, on an oversubscribed machine
# make demo       deps + build + the demo
# make bench      deps + build + benchmarks
# make bench-compare [REV=HEAD~1]  this tree's benchmarks against REV's
# make faults     every link fault of test_faults (make check runs a subset)
# make install PREFIX=/usr/local [DESTDIR=...]

# plain "make" builds everything (the first rule below is the guest image)
.DEFAULT_GOAL := all

PREFIX	?= /usr/local
DESTDIR	?=
B	:= build
V	?= 0

CC	?= gcc
ifeq ($(origin CC),default)
CC	:= gcc
endif

ifeq ($(V),0)
Q	:= @
msg	= @printf '  %-8s %s\n' $(1) $(2);
else
Q	:=
msg	=
endif

# kvmtool's warning set, as errors.
WARNINGS := -Wall -Wextra -Werror -Wformat=2 -Winit-self -Wnested-externs \
	-Wno-system-headers -Wold-style-definition -Wredundant-decls \
	-Wsign-compare -Wstrict-prototypes -Wundef -Wvolatile-register-var \
	-Wwrite-strings -Wno-format-nonliteral -Wmissing-prototypes
CFLAGS	?= -O2 -g
# LDFLAGS: the programs' link lines only (the kernel lab links -static)
LDFLAGS	?=
ALL_CFLAGS := $(CFLAGS) $(WARNINGS) -std=gnu11 -D_GNU_SOURCE -pthread \
	-Iuser/include -MMD -MP
# The dependency file names the object exactly as make does: gcc writes a
# relative path for an absolute -o (the lab builds in B=/var/cache/...),
# and a rule for a name make never asks about rebuilds nothing.
DEP	= -MT $@
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all

JSON_LIBS := -ljansson
LIB_DEPS  := -lpthread

# TLS on the channels (GnuTLS, user/lib/tls.c): TLS=1, unless the programs
# link -static (the kernel lab): a static GnuTLS needs static p11-kit and
# libunistring, which Debian does not ship.  With TLS=0 tls.c is left out,
# tls.h's stubs refuse --tls-creds, and the TLS tests skip.
TLS	?= $(if $(filter -static,$(LDFLAGS)),0,1)
ifeq ($(TLS),1)
ALL_CFLAGS += -DKVMIG_TLS
TLS_LIBS := $(shell pkg-config --libs gnutls 2>/dev/null || echo -lgnutls)
else
TLS_LIBS :=
endif

# ---------------------------------------------------------------- guest code
GUEST_CFLAGS := -O2 -ffreestanding -fno-pic -fno-pie -mno-red-zone \
	-mgeneral-regs-only -fno-stack-protector -fno-asynchronous-unwind-tables \
	-fno-builtin -nostdlib -static -no-pie -Wall -Wextra -Werror
$(B)/guest/guest.elf: tools/vm/guest/guest.c tools/vm/guest_abi.h tools/vm/guest/guest.lds
	@mkdir -p $(dir $@)
	$(call msg,GUEST,$@)$(CC) $(GUEST_CFLAGS) -Wl,-T,tools/vm/guest/guest.lds \
		-Wl,--build-id=none -o $@ $<
$(B)/guest/guest.bin: $(B)/guest/guest.elf
	$(call msg,OBJCOPY,$@)objcopy -O binary $< $@

# ---------------------------------------------------------------- libkvmig
LIB_SRCS := $(filter-out $(if $(filter 1,$(TLS)),,user/lib/tls.c), \
	$(wildcard user/lib/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/obj/%.o)
LIB_PIC  := $(LIB_SRCS:%.c=$(B)/pic/%.o)
LIB_A    := $(B)/lib/libkvmig.a
LIB_SO   := $(B)/lib/libkvmig.so
LIB_SONAME := libkvmig.so.1
LIB_LIBS := $(JSON_LIBS) $(TLS_LIBS) -lxxhash -lzstd -llz4 -lz -lpthread -lm

$(LIB_A): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call msg,AR,$@)rm -f $@ && ar rcs $@ $^

$(LIB_SO): $(LIB_PIC) user/lib/libkvmig.map
	@mkdir -p $(dir $@)
	$(call msg,LINK,$@)$(CC) $(ALL_CFLAGS) -shared -Wl,-soname,$(LIB_SONAME) \
		-Wl,--version-script=user/lib/libkvmig.map -o $@.1 $(LIB_PIC) $(LIB_LIBS)
	@ln -sf libkvmig.so.1 $@

$(B)/obj/user/lib/%.o: user/lib/%.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)$(CC) $(ALL_CFLAGS) $(DEP) -fvisibility=hidden -c -o $@ $<
$(B)/pic/user/lib/%.o: user/lib/%.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)$(CC) $(ALL_CFLAGS) $(DEP) -fPIC -fvisibility=hidden -c -o $@ $<

# ---------------------------------------------------------------- kvmig-vm
VM_SRCS := $(wildcard tools/vm/*.c)
VM_OBJS := $(VM_SRCS:%.c=$(B)/obj/%.o) $(B)/obj/tools/vm/guest_image.o

$(B)/obj/tools/vm/guest_image.o: tools/vm/guest_image.S $(B)/guest/guest.bin
	@mkdir -p $(dir $@)
	$(call msg,AS,$@)$(CC) -c -DGUEST_BIN='"$(B)/guest/guest.bin"' -o $@ $<

$(B)/bin/kvmig-vm: $(VM_OBJS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(call msg,LINK,$@)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIB_LIBS) -lm

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)$(CC) $(ALL_CFLAGS) $(DEP) -c -o $@ $<

# ---------------------------------------------------------------- tests
TEST_SRCS  := $(wildcard selftests/user/test_*.c)
TEST_BINS  := $(TEST_SRCS:selftests/user/%.c=$(B)/tests/%)
# the install test links a plain program: only for the plain build
ifeq ($(B),build)
TEST_BINS  += $(B)/tests/test_install
endif
HARNESS    := $(B)/obj/selftests/user/harness.o
VECTORS    := $(abspath selftests/vectors)

$(B)/obj/selftests/user/%.o: selftests/user/%.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)$(CC) $(ALL_CFLAGS) $(DEP) -DVECTORS_DIR='"$(VECTORS)"' -c -o $@ $<

$(B)/tests/test_install: selftests/user/test_install.sh
	@mkdir -p $(dir $@)
	$(call msg,CP,$@)cp $< $@ && chmod +x $@

$(B)/tests/%: $(B)/obj/selftests/user/%.o $(HARNESS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(call msg,LINK,$@)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIB_LIBS) -lm

# ---------------------------------------------------------------- kvmig (helper)
# libnl (--max-bandwidth auto reads the route and the link over netlink)
KVMIG_SRCS := $(wildcard user/kvmig/*.c)
NL_CFLAGS := -I/usr/include/libnl3
NL_LIBS := -lnl-route-3 -lnl-genl-3 -lnl-3
$(KVMIG_SRCS:%.c=$(B)/obj/%.o): ALL_CFLAGS += $(NL_CFLAGS)
$(B)/bin/kvmig: $(KVMIG_SRCS:%.c=$(B)/obj/%.o) $(LIB_A)
	@mkdir -p $(dir $@)
	$(call msg,LINK,$@)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(NL_LIBS) $(LIB_LIBS)

# test_faults runs migrations across a veth pair between two network
# namespaces, which netbed.c sets up over netlink (libnl)
$(B)/tests/test_faults: $(B)/obj/selftests/user/netbed.o
$(B)/tests/test_faults: LIB_LIBS += $(NL_LIBS)
$(B)/obj/selftests/user/netbed.o: ALL_CFLAGS += $(NL_CFLAGS)

# ---------------------------------------------------------------- benchmarks
BENCH_SRCS := $(wildcard tools/bench/bench_*.c)
BENCH_BINS := $(BENCH_SRCS:tools/bench/%.c=$(B)/bin/%)

$(B)/bin/bench_%: $(B)/obj/tools/bench/bench_%.o $(HARNESS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(call msg,LINK,$@)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIB_LIBS) -lm

# ---------------------------------------------------------------- fuzzers
# Each fuzz target also builds as a test program that replays its corpus
# (with deterministic mutations) under the build's sanitizers.
FUZZ_SRCS := $(wildcard selftests/fuzz/fuzz_*.c)
FUZZ_TESTS := $(FUZZ_SRCS:selftests/fuzz/fuzz_%.c=$(B)/tests/test_fuzz_%)
CORPUS := $(abspath selftests/fuzz/corpus)

$(B)/obj/selftests/fuzz/%.o: selftests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)$(CC) $(ALL_CFLAGS) $(DEP) -DCORPUS_DIR='"$(CORPUS)"' -c -o $@ $<
$(B)/tests/test_fuzz_%: $(B)/obj/selftests/fuzz/fuzz_%.o $(B)/obj/selftests/fuzz/replay.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(call msg,LINK,$@)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ \
		$(filter-out $(LIB_A),$^) $(LIB_A) $(LIB_LIBS) -lm
# the targets of the VMM's decoders link its code (the control protocol's:
# all of it but main(), since the command table names every handler)
$(B)/tests/test_fuzz_control: $(filter-out %/main.o,$(VM_OBJS))
$(B)/tests/test_fuzz_state: $(B)/obj/tools/vm/state.o

# make fuzz [FUZZ_SECONDS=60] [FUZZ_RUNS=N] [FUZZ_TARGETS="wire state"]: a
# libFuzzer campaign per target, one at a time in one process, over its
# corpus, until FUZZ_SECONDS pass or FUZZ_RUNS inputs ran (-runs=N), whichever
# comes first.  Then the inputs it found are merged into the kept corpus,
# selftests/fuzz/corpus/<target>: -merge=1 adds only those that reach
# coverage the corpus does not, so it stays small.  Each target prints one
# line: executions, exec/s, libFuzzer's cov (edges) and ft (features), the
# corpus' files before and after, the wall time and the line and region
# coverage of the decoder's sources (FUZZ_COV_<target>), by llvm-cov over
# the corpus kept; $(B)/fuzz/<target>.log has libFuzzer's output and the
# per-file report.  A crash stops the run and leaves the input in
# $(B)/fuzz/<target>-crash-*.
FUZZ_SECONDS ?= 60
FUZZ_RUNS ?= -1
FUZZ_TARGETS ?= $(FUZZ_SRCS:selftests/fuzz/fuzz_%.c=%)
# what the decoders under fuzz need, built with the fuzzer's instrumentation:
# the library's decoders by default, FUZZ_LINK_<target> where it needs more
FUZZ_LIB_SRCS := user/lib/wire.c $(wildcard user/lib/codec*.c) user/lib/xbzrle.c \
	user/lib/xcache.c user/lib/simd.c user/lib/log.c
# the control protocol's parsers live in the VMM and the library: all of
# both (the handlers never run, but the command table names them)
FUZZ_LINK_control := $(filter-out tools/vm/main.c,$(VM_SRCS)) \
	tools/vm/guest_image.S $(LIB_SRCS)
FUZZ_LINK_state := tools/vm/state.c
# the sources whose coverage each target reports
FUZZ_COV_wire := user/lib/wire.c
FUZZ_COV_codec := $(wildcard user/lib/codec*.c)
FUZZ_COV_xbzrle := user/lib/xbzrle.c
FUZZ_COV_control := tools/vm/control.c user/lib/vmm_client.c
FUZZ_COV_state := tools/vm/state.c
# (struct kvm_msrs ends in a flexible array: state.c's one-MSR buffer puts
# an entry after it, as KVM's users do, which clang calls a GNU extension)
FUZZ_CC = clang -g -O1 -DKVMIG_LIBFUZZER $(filter -DKVMIG_TLS,$(ALL_CFLAGS)) \
	-Iuser/include -D_GNU_SOURCE -pthread \
	-Wno-gnu-variable-sized-type-not-at-end \
	-DGUEST_BIN='"$(B)/guest/guest.bin"' $< $(or $(FUZZ_LINK_$*),$(FUZZ_LIB_SRCS)) \
	$(LIB_LIBS) -o $@

$(B)/fuzz/fuzz_%: selftests/fuzz/fuzz_%.c $(LIB_SRCS) $(VM_SRCS) $(B)/guest/guest.bin
	@mkdir -p $(dir $@)
	$(call msg,FUZZCC,$@)$(FUZZ_CC) -fsanitize=fuzzer,address,undefined
$(B)/fuzz/fuzz_%.cov: selftests/fuzz/fuzz_%.c $(LIB_SRCS) $(VM_SRCS) $(B)/guest/guest.bin
	@mkdir -p $(dir $@)
	$(call msg,FUZZCC,$@)$(FUZZ_CC) -fsanitize=fuzzer \
		-fprofile-instr-generate -fcoverage-mapping

fuzz: deps
	$(Q)command -v clang >/dev/null || { echo "fuzz: needs clang" >&2; exit 1; }
	$(Q)for t in $(FUZZ_TARGETS); do \
		$(MAKE) --no-print-directory fuzz-$$t || exit 1; \
	done
.PRECIOUS: $(B)/fuzz/fuzz_% $(B)/fuzz/fuzz_%.cov
# one target's campaign, merge and coverage (make fuzz runs each in turn)
fuzz-%: $(B)/fuzz/fuzz_% $(B)/fuzz/fuzz_%.cov
	$(Q)f=$(B)/fuzz/fuzz_$*; c=$(CORPUS)/$*; l=$(B)/fuzz/$*.log; \
	rm -rf $$f.new $$f.profraw && mkdir -p $$f.new || exit 1; \
	before=$$(ls $$c | wc -l); t0=$$(date +%s); \
	$$f -max_total_time=$(FUZZ_SECONDS) -runs=$(FUZZ_RUNS) \
		-print_final_stats=1 -artifact_prefix=$(B)/fuzz/$*- \
		$$f.new $$c >$$l 2>&1 || { tail -n 60 $$l; exit 1; }; \
	t1=$$(date +%s); \
	$$f -merge=1 $$c $$f.new >$$l.merge 2>&1 || { tail -n 20 $$l.merge; exit 1; }; \
	LLVM_PROFILE_FILE=$$f.profraw $$f.cov $$c/* >/dev/null 2>&1 && \
	llvm-profdata merge -sparse $$f.profraw -o $$f.profdata && \
	llvm-cov report $$f.cov -instr-profile=$$f.profdata $(FUZZ_COV_$*) \
		>$$l.cov || exit 1; \
	awk -v n=$* -v t=$$((t1 - t0)) -v b=$$before -v a=$$(ls $$c | wc -l) \
		-v kb=$$(($$(cat $$c/* | wc -c) / 1024)) \
		'/^#[0-9]+.*cov: / { cov = $$0; sub(/.*cov: /, "", cov); \
				     sub(/ corp.*/, "", cov) } \
		 /number_of_executed_units/ { runs = $$2 } \
		 /average_exec_per_sec/ { rate = $$2 } \
		 /^TOTAL/ { lines = $$10; regions = $$4 } \
		 END { printf "  FUZZ     %s: %d runs, %d exec/s, cov %s, " \
			"corpus %d -> %d files (%d KiB), %d s, lines %s, " \
			"regions %s\n", n, runs, rate, cov, b, a, kb, t, \
			lines, regions }' $$l $$l.cov

# ---------------------------------------------------------------- top level
BINS := $(B)/bin/kvmig-vm $(B)/bin/kvmig

# The man pages are the manuals in Documentation/, through Debian's rst2man
# (python3-docutils); a manual that rst2man warns about fails the build.
MAN_PAGES := $(B)/man/kvmig.1 $(B)/man/kvmig-vm.1 $(B)/man/libkvmig.3
$(B)/man/kvmig.1: Documentation/kvmig.rst scripts/man.sh
	@mkdir -p $(dir $@)
	$(Q)sh scripts/man.sh kvmig 1 "live-migrate a KVM guest between two VMMs" $< $@
$(B)/man/kvmig-vm.1: Documentation/vm.rst scripts/man.sh
	@mkdir -p $(dir $@)
	$(Q)sh scripts/man.sh kvmig-vm 1 "the kvmig reference VMM" $< $@
$(B)/man/libkvmig.3: Documentation/libkvmig.rst scripts/man.sh
	@mkdir -p $(dir $@)
	$(Q)sh scripts/man.sh libkvmig 3 "the kvmig live-migration library" $< $@

all: $(LIB_A) $(LIB_SO) $(BINS) $(TEST_BINS) $(FUZZ_TESTS) $(BENCH_BINS) $(MAN_PAGES)

deps:
	$(Q)scripts/deps.sh

# what only the tests need: a browser for the HTML report (test_progress),
# ip for the interfaces of test_bandwidth_auto
CHECK_PKGS := chromium fonts-liberation iproute2
deps-check: deps-check
	$(Q)scripts/deps.sh $(CHECK_PKGS)

# The kernel lab (tools/lab/README.md): the patched kernel, its KVM
# selftests and ours, booted under QEMU; its build cache lives outside the
# tree (KVMIG_LAB_CACHE, default /var/cache/kvmig-lab).
# kvmig's own guest-running tests, on one CPU: see tools/lab/user
LAB_USER := KVMIG_LAB_CPUS=1 KVMIG_LAB_TESTS=tools/lab/user
LAB_TESTS := "2400:bash tools/lab/lab.sh" "2700:bash tools/lab/lab.sh --debug" \
	"1800:$(LAB_USER) bash tools/lab/lab.sh" "1800:bash tools/lab/lab.sh --debian"

check: deps-check
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory asan
	$(Q)$(MAKE) --no-print-directory tsan
	$(Q)scripts/run-tests.sh $(B) $(B)/asan $(B)/tsan -- $(LAB_TESTS)

# make check-stress [STRESS_RUNS=3]: the user-space tests (not the lab),
# plain, ASan and TSan, STRESS_RUNS times in a row with every CPU busy and
# memory bandwidth taken (scripts/stress.sh); every run must pass.  Logs in
# $(B)/stress/.
STRESS_RUNS ?= 3
check-stress: deps-check
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory asan
	$(Q)$(MAKE) --no-print-directory tsan
	$(Q)scripts/stress.sh $(STRESS_RUNS) $(B)/stress -- \
		scripts/run-tests.sh $(B) $(B)/asan $(B)/tsan

# make lab [DEBUG=1]: the kernel lab alone
lab:
	$(Q)bash tools/lab/lab.sh $(if $(DEBUG),--debug)

# make lab-debian: Debian's own 6.12 kernel with kvmig's KVM as out-of-tree
# modules (make modules, DKMS), booted in the lab (tools/lab/debian)
lab-debian:
	$(Q)bash tools/lab/lab.sh --debian

# make lab-user: kvmig's guest-running tests on the patched kernel
# (tools/lab/user)
lab-user:
	$(Q)$(LAB_USER) bash tools/lab/lab.sh

# kvmig's KVM as out-of-tree modules for Debian's 6.12 kernel (the top-level
# Kbuild; kernel/kmod/kmod.sh): "make modules [KVER=6.12...]" builds kvm.ko,
# kvm-amd.ko and kvm-intel.ko in $(B)/kmod against the installed headers;
# "make dkms-install [KVER=...]" installs them with DKMS (rebuilt for each
# new 6.12 kernel), "make dkms-remove" goes back to the stock modules.
# Without KVER: the running kernel if it is a 6.12 one, otherwise the newest
# installed 6.12 headers.
modules:
	$(Q)kernel/kmod/kmod.sh build $(B)/kmod $(KVER)
dkms-install:
	$(Q)kernel/kmod/kmod.sh dkms-install $(B)/kmod-dkms $(KVER)
dkms-remove:
	$(Q)kernel/kmod/kmod.sh dkms-remove

# The sanitizer builds: the same sources and tests under $(B)/asan (ASan +
# UBSan) and $(B)/tsan (ThreadSanitizer, for the threaded code).
asan:
	$(Q)$(MAKE) --no-print-directory B=$(B)/asan \
		CFLAGS="-O1 -g $(SAN_FLAGS)" all
tsan:
	$(Q)$(MAKE) --no-print-directory B=$(B)/tsan \
		CFLAGS="-O1 -g -fsanitize=thread" all

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh $(B)

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/bench.sh $(B)

# make faults: test_faults --full, migrations across a veth pair between two
# network namespaces with the link cut at every one of its cut points (setup,
# each pass, the switchover, the commit), a long stall, loss, a slow link and
# a slow peer (Documentation/design.rst, "Link faults"); make check runs a
# subset of about a minute.  Needs root (namespaces, netlink) and /dev/kvm;
# a skip (exit 4) where either is missing fails the target.
faults: deps
	$(Q)$(MAKE) --no-print-directory $(BINS) $(B)/tests/test_faults
	$(Q)$(B)/tests/test_faults --full

# make bench-compare [REV=HEAD~1] [BENCHES="bench_pipeline bench_xbzrle"]
# [ROUNDS=5] [THRESHOLD=5]: the benchmarks of this tree and of REV, built
# side by side (REV in a temporary git worktree), run in interleaved
# rounds; the median new/old throughput ratio of every row both report,
# with its spread, and a verdict (scripts/bench-compare.sh).  The "+"
# lends the script's makes this make's job slots.
REV ?= HEAD~1
bench-compare: deps
	$(Q)+scripts/bench-compare.sh $(B) $(REV) $(BENCHES)

LIBDIR	?= $(PREFIX)/lib
INCDIR	?= $(PREFIX)/include

MANDIR	?= $(PREFIX)/share/man

# written at install time: it records PREFIX; libdir and includedir are
# relative to ${prefix} unless LIBDIR or INCDIR were given elsewhere
PC_LIBDIR = $(if $(filter $(PREFIX)/lib,$(LIBDIR)),$${prefix}/lib,$(LIBDIR))
PC_INCDIR = $(if $(filter $(PREFIX)/include,$(INCDIR)),$${prefix}/include,$(INCDIR))
$(B)/kvmig.pc: FORCE
	@mkdir -p $(dir $@)
	@printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(PC_LIBDIR)' 'includedir=$(PC_INCDIR)' '' \
		'Name: kvmig' 'Description: live migration of KVM guests' \
		'Version: 0.4' 'Requires.private: jansson' \
		'Libs: -L$${libdir} -lkvmig' 'Libs.private: $(TLS_LIBS) -lxxhash -lzstd -llz4 -lz -lpthread -lm' \
		'Cflags: -I$${includedir}' > $@

# only what it installs: no tests, benchmarks or fuzzers
install: $(LIB_A) $(LIB_SO) $(BINS) $(MAN_PAGES) $(B)/kvmig.pc
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(INCDIR)/kvmig $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man3
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 0755 $(LIB_SO).1 $(DESTDIR)$(LIBDIR)/
	ln -sf libkvmig.so.1 $(DESTDIR)$(LIBDIR)/libkvmig.so
	install -m 0644 user/include/kvmig/kvmig.h $(DESTDIR)$(INCDIR)/kvmig/
	install -m 0644 $(B)/kvmig.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	install -m 0644 $(B)/man/kvmig.1 $(B)/man/kvmig-vm.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(B)/man/libkvmig.3 $(DESTDIR)$(MANDIR)/man3/

clean:
	rm -rf $(B)

FORCE:
.PHONY: all deps deps-check check check-stress asan tsan demo bench bench-compare fuzz faults \
	lab lab-user lab-debian modules dkms-install dkms-remove install clean FORCE
.DELETE_ON_ERROR:
.SECONDARY:

-include $(shell find $(B)/obj $(B)/pic -name '*.d' 2>/dev/null)
