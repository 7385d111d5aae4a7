# SPDX-License-Identifier: GPL-2.0
#
# tcpphase: `make` builds ./tcpphase, one self-contained binary (BPF object
# embedded through a bpftool skeleton, libbpf linked statically).
# `make test` runs the whole suite, `make run` traces. V=1 shows commands.
OUTPUT := .output
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= cc
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX := vmlinux/$(ARCH)/vmlinux.h
VERSION := 0.1.0

CFLAGS ?= -g -O2
SAN_FLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
ifeq ($(SAN),1)
CFLAGS := $(SAN_FLAGS)
endif
CFLAGS += -Wall -Wextra -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE -DTCPPHASE_VERSION='"$(VERSION)"'
CPPFLAGS += -Ibpf -Iuser -I$(OUTPUT)
LIBBPF_A ?= $(firstword $(wildcard /usr/lib/$(shell $(CC) -print-multiarch 2>/dev/null)/libbpf.a \
		/usr/lib64/libbpf.a /usr/lib/libbpf.a))
LDLIBS += $(if $(LIBBPF_A),$(LIBBPF_A),-lbpf) -lelf -lz -lmicrohttpd -lpthread -lm

# clang -target bpf does not search the arch include dirs (asm/types.h)
CLANG_BPF_SYS_INCLUDES ?= $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')

# the pure modules: no libbpf, unit-tested, shared by live and replay
LOADER_SRCS := user/tcpphase.c user/live.c user/bpfsetup.c user/losses.c user/ksyms.c \
	user/bpfstats.c user/kcounters.c user/sockdiag.c user/aggring.c user/kfeatures.c user/gauges.c \
	user/listenmap.c user/btfprobe.c
CORE_SRCS := $(filter-out $(LOADER_SRCS),$(wildcard user/*.c))
CORE_OBJS := $(patsubst user/%.c,$(OUTPUT)/%.o,$(CORE_SRCS))
LOADER_OBJS := $(patsubst user/%.c,$(OUTPUT)/%.o,$(LOADER_SRCS))
UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(wildcard tests/unit/test_*.c))
HELPERS := $(OUTPUT)/delayline
ROWCOST := bench/.output/rowcost
# the BPF programs on their own, test_progs-style (tests/progs), run as root
PROGS_TEST := $(OUTPUT)/tests/progs

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
MAKEFLAGS += --no-print-directory
endif

BIN ?= tcpphase

.PHONY: all clean test unit run setup format-check lint sanitize fuzz kernel-matrix rowcost
all: $(BIN)

setup:
	$(Q)./scripts/setup.sh

$(OUTPUT) $(OUTPUT)/tests:
	$(Q)mkdir -p $@

$(OUTPUT)/tcpphase.bpf.o: bpf/tcpphase.bpf.c $(wildcard bpf/*.bpf.h) bpf/tcpphase.h $(VMLINUX) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -Wall -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Ibpf -Ivmlinux/$(ARCH) \
		$(CLANG_BPF_SYS_INCLUDES) -c $< -o $@

$(OUTPUT)/tcpphase.skel.h: $(OUTPUT)/tcpphase.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name tcpphase_bpf > $@

$(OUTPUT)/%.o: user/%.c $(wildcard user/*.h) bpf/tcpphase.h | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# the loader's modules are the ones that may include the skeleton
$(LOADER_OBJS): $(OUTPUT)/tcpphase.skel.h

$(BIN): $(CORE_OBJS) $(LOADER_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(CORE_OBJS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $< $(CORE_OBJS) -lmicrohttpd -lpthread -lm -lz -o $@

# bench/rowcost: one CSV row's cost, on the same pure modules as the unit tests
rowcost: $(ROWCOST)
$(ROWCOST): bench/rowcost.c $(CORE_OBJS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $< $(CORE_OBJS) -lmicrohttpd -lpthread -lm -lz -o $@

# links the skeleton and the helpers it shares with bpfsetup.c (HZ, kallsyms, BTF probes)
$(PROGS_TEST): tests/progs/test_progs.c tests/unit/unit.h bpf/tcpphase.h $(OUTPUT)/tcpphase.skel.h \
		$(OUTPUT)/hz.o $(OUTPUT)/ksyms.o $(OUTPUT)/btfprobe.o | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $< $(OUTPUT)/hz.o $(OUTPUT)/ksyms.o \
		$(OUTPUT)/btfprobe.o \
		$(if $(LIBBPF_A),$(LIBBPF_A),-lbpf) -lelf -lz -o $@

$(OUTPUT)/delayline: tests/helpers/delayline.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@

unit: $(UNIT_TESTS)

# the user space and its unit tests again, under ASan and UBSan
sanitize:
	$(Q)$(MAKE) OUTPUT=$(OUTPUT)/san BIN=$(OUTPUT)/san/tcpphase SAN=1 $(OUTPUT)/san/tcpphase unit

fuzz:
	$(Q)./tests/fuzz/build.sh

# the README's test command: everything, unit and real-BPF integration
test: setup $(BIN) $(UNIT_TESTS) $(HELPERS) $(PROGS_TEST) sanitize
	$(Q)./tests/run.sh

run: setup tcpphase
	./tcpphase $(ARGS)

# tcpphase on Debian 12's kernels, each booted under qemu (scripts/kernel-matrix.sh)
$(OUTPUT)/kmatrix-workload: tests/kernel/workload.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) -static -O2 -Wall -Wextra $< -o $@

kernel-matrix: setup $(BIN) $(OUTPUT)/kmatrix-workload
	$(Q)./scripts/kernel-matrix.sh -w $(OUTPUT)/kmatrix-workload $(BIN) $(KERNELS)

# `make install` (PREFIX, DESTDIR), `make uninstall`; `make deb` builds
# $(DEBDIR)/tcpphase_$(VERSION)_ARCH.deb (prefix /usr) with scripts/mkdeb.sh
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MAN8DIR ?= $(PREFIX)/share/man/man8
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
UNITDIR ?= $(PREFIX)/lib/systemd/system
UNIT := $(wildcard scripts/tcpphase.service)
DEBDIR ?= .

install: $(BIN)
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -D -m 0755 $(BIN) $(DESTDIR)$(SBINDIR)/tcpphase
	$(Q)install -D -m 0644 doc/tcpphase.8 $(DESTDIR)$(MAN8DIR)/tcpphase.8
	$(Q)install -D -m 0644 scripts/tcpphase.bash-completion $(DESTDIR)$(COMPLETIONDIR)/tcpphase
ifneq ($(UNIT),)
	$(Q)mkdir -p $(DESTDIR)$(UNITDIR)
	$(Q)sed 's|/usr/sbin/tcpphase|$(SBINDIR)/tcpphase|g' $(UNIT) >$(DESTDIR)$(UNITDIR)/tcpphase.service
	$(Q)chmod 0644 $(DESTDIR)$(UNITDIR)/tcpphase.service
endif

uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(DESTDIR)$(SBINDIR)/tcpphase $(DESTDIR)$(MAN8DIR)/tcpphase.8 \
		$(DESTDIR)$(COMPLETIONDIR)/tcpphase $(DESTDIR)$(UNITDIR)/tcpphase.service

deb: $(BIN)
	$(Q)rm -rf $(OUTPUT)/deb
	$(Q)$(MAKE) install DESTDIR=$(OUTPUT)/deb PREFIX=/usr UNITDIR=/lib/systemd/system
	$(Q)./scripts/mkdeb.sh $(OUTPUT)/deb $(VERSION) $(DEBDIR)

C_FILES = bpf/*.c bpf/*.h user/*.c user/*.h tests/unit/*.c tests/unit/*.h tests/helpers/*.c tests/progs/*.c \
	tests/fuzz/*.c tests/kernel/*.c bench/*.c bench/*/*.c
SH_FILES = scripts/*.sh tests/run.sh tests/fuzz/*.sh tests/kernel/init bench/*.sh bench/*/*.sh \
	bench/hookcount/init .ci/run

format-check:
	$(Q)clang-format --dry-run -Werror $(wildcard $(C_FILES))

# static checks: formatting, cppcheck on the user space, ShellCheck on the scripts
lint:
	$(Q)cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
		--inline-suppr --suppress=missingIncludeSystem --suppress=unknownMacro:user/bpfsetup.c --suppress=unknownMacro:tests/progs/test_progs.c -D__x86_64__ -Ibpf -Iuser \
		user tests/unit tests/helpers tests/progs
	$(Q)shellcheck $(wildcard $(SH_FILES))

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT) tcpphase $(ROWCOST)

.DELETE_ON_ERROR:
