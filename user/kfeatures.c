// SPDX-License-Identifier: GPL-2.0
/*
 * kfeatures.c - the probes behind kfeatures_check(): each feature of the
 * table in kfeatures_core.c is tried for real (a map created, a two- to
 * six-instruction program loaded, a type looked up in the kernel's BTF),
 * never inferred from the version. Every fd is closed before returning.
 *
 * A refusal by the kernel (EINVAL, E2BIG, EACCES, ENOTSUPP...) means the
 * feature is missing; EPERM, ENOMEM and the like mean the probe cannot
 * tell, and that feature is left to the real load, which says why.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/btf.h>

#include "kfeatures.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524 /* the kernel's own, returned by BPF_PROG_TEST_RUN */
#endif

#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define MOV64_IMM(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define EXIT INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

struct probe_ctx {
	void *btf_data; /* mmap()ed, btf_size bytes */
	size_t btf_size;
	struct kf_btf btf;
	bool btf_ok; /* vmlinux BTF read and walked */
	int tp_id; /* btf_trace_inet_sock_set_state, or -ENOENT */
	int base_err; /* a trivial program does not load: no load probe can tell */
};

/* The kernel refused: missing. Out of resources or not allowed: cannot tell. */
static int refused(int err)
{
	switch (-err) {
	case EPERM:
	case ENOMEM:
	case EMFILE:
	case ENFILE:
	case EINTR:
	case EAGAIN:
		return err;
	default:
		return 0;
	}
}

static int prog_load(enum bpf_prog_type type, enum bpf_attach_type attach, int btf_id,
		     const struct bpf_insn *insns, size_t n)
{
	struct bpf_prog_load_opts o = {
		.sz = sizeof(o),
		.expected_attach_type = attach,
		.attach_btf_id = btf_id > 0 ? btf_id : 0,
	};
	int fd = bpf_prog_load(type, NULL, "GPL", insns, n, &o);

	return fd < 0 ? -errno : fd;
}

/* Load a program that must load if the feature is there: 1, 0 or -errno. */
static int prog_loads(struct probe_ctx *c, enum bpf_prog_type type, enum bpf_attach_type attach,
		      int btf_id, const struct bpf_insn *insns, size_t n)
{
	int fd;

	if (c->base_err)
		return c->base_err;
	fd = prog_load(type, attach, btf_id, insns, n);
	if (fd < 0)
		return refused(fd);
	close(fd);
	return 1;
}

static int probe_loops(struct probe_ctx *c)
{
	const struct bpf_insn insns[] = {
		MOV64_IMM(BPF_REG_0, 0),
		MOV64_IMM(BPF_REG_1, 0),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_1, 0, 0, 1),
		INSN(BPF_JMP | BPF_JLT | BPF_K, BPF_REG_1, 0, -2, 4), /* back to the add */
		EXIT,
	};

	return prog_loads(c, BPF_PROG_TYPE_SOCKET_FILTER, 0, 0, insns, 5);
}

/* What tcpphase compiles __sync_val_compare_and_swap and friends to (-mcpu=v3). */
static int probe_atomics(struct probe_ctx *c)
{
	const struct bpf_insn insns[] = {
		MOV64_IMM(BPF_REG_1, 0),
		INSN(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_10, BPF_REG_1, -8, 0),
		MOV64_IMM(BPF_REG_0, 0),
		MOV64_IMM(BPF_REG_2, 1),
		INSN(BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_10, BPF_REG_2, -8, BPF_CMPXCHG),
		INSN(BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_10, BPF_REG_2, -8, BPF_XCHG),
		MOV64_IMM(BPF_REG_0, 0),
		EXIT,
	};

	return prog_loads(c, BPF_PROG_TYPE_SOCKET_FILTER, 0, 0, insns, 8);
}

/* A tp_btf program on the state tracepoint, as tcpphase's are loaded. */
static int probe_tp_btf(struct probe_ctx *c)
{
	const struct bpf_insn insns[] = { MOV64_IMM(BPF_REG_0, 0), EXIT };

	if (c->tp_id < 0)
		return c->btf_ok ? 0 : -ENOENT;
	return prog_loads(c, BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, c->tp_id, insns, 2);
}

/* bpf_skc_to_tcp_sock(sk) on the tracepoint's socket, as handle_set_state does. */
static int probe_skc_to_tcp_sock(struct probe_ctx *c)
{
	const struct bpf_insn insns[] = {
		INSN(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_1, BPF_REG_1, 0, 0),
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_skc_to_tcp_sock),
		MOV64_IMM(BPF_REG_0, 0),
		EXIT,
	};

	if (c->tp_id < 0)
		return c->btf_ok ? 0 : -ENOENT;
	return prog_loads(c, BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, c->tp_id, insns, 4);
}

/* probe_tw and the HZ measurement run raw_tp programs this way. */
static int probe_raw_tp_test_run(struct probe_ctx *c)
{
	const struct bpf_insn insns[] = { MOV64_IMM(BPF_REG_0, 0), EXIT };
	__u64 args[1] = { 0 };
	struct bpf_test_run_opts o = { .sz = sizeof(o),
				       .ctx_in = args,
				       .ctx_size_in = sizeof(args) };
	int fd, err;

	if (c->base_err)
		return c->base_err;
	fd = prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0, insns, 2);
	if (fd < 0)
		return refused(fd);
	err = bpf_prog_test_run_opts(fd, &o) ? -errno : 0;
	close(fd);
	return err ? refused(err) : 1;
}

/* tcpphase reads each program's recursion_misses: the field must exist. */
static int probe_recursion_misses(struct probe_ctx *c)
{
	const struct bpf_insn insns[] = { MOV64_IMM(BPF_REG_0, 0), EXIT };
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd, err;

	if (c->base_err)
		return c->base_err;
	fd = prog_load(BPF_PROG_TYPE_SOCKET_FILTER, 0, 0, insns, 2);
	if (fd < 0)
		return refused(fd);
	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(fd, &info, &len) ? -errno : 0;
	close(fd);
	if (err)
		return refused(err);
	/* the kernel says how much of the struct it knows */
	return len >=
	       offsetof(struct bpf_prog_info, recursion_misses) + sizeof(info.recursion_misses);
}

/* The aggregation rings and slots are arrays that user space maps. */
static int probe_mmapable(void)
{
	struct bpf_map_create_opts o = { .sz = sizeof(o), .map_flags = BPF_F_MMAPABLE };
	long page = sysconf(_SC_PAGESIZE);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 8, 1, &o);
	void *p;

	if (fd < 0)
		return refused(-errno);
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED)
		munmap(p, page);
	close(fd);
	return p != MAP_FAILED;
}

static int probe_state_tp(struct probe_ctx *c)
{
	if (!c->btf_ok)
		return -ENOENT;
	return c->tp_id > 0 ||
	       kf_btf_find(&c->btf, "trace_event_raw_inet_sock_set_state", BTF_KIND_STRUCT) > 0;
}

/* CO-RE reads net->net_cookie as a plain u64 (an atomic64_t before 5.12). */
static int probe_net_cookie(struct probe_ctx *c)
{
	int net = c->btf_ok ? kf_btf_find(&c->btf, "net", BTF_KIND_STRUCT) : -ENOENT;

	if (net < 0)
		return -ENOENT;
	return kf_btf_member_int_size(&c->btf, net, "net_cookie") == 8;
}

static int probe_btf(void)
{
	if (!access(VMLINUX_BTF, R_OK))
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

static int probe(enum kfeature_id id, void *ctx)
{
	struct probe_ctx *c = ctx;

	switch (id) {
	case KF_STATE_TP:
		return probe_state_tp(c);
	case KF_LOOPS:
		return probe_loops(c);
	case KF_BTF:
		return probe_btf();
	case KF_TP_BTF:
		return probe_tp_btf(c);
	case KF_PROBE_READ_KERNEL:
		return libbpf_probe_bpf_helper(BPF_PROG_TYPE_RAW_TRACEPOINT,
					       BPF_FUNC_probe_read_kernel, NULL);
	case KF_JIFFIES64:
		return libbpf_probe_bpf_helper(BPF_PROG_TYPE_RAW_TRACEPOINT, BPF_FUNC_jiffies64,
					       NULL);
	case KF_MMAPABLE:
		return probe_mmapable();
	case KF_RINGBUF:
		return libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL);
	case KF_SKC_TO_TCP_SOCK:
		return probe_skc_to_tcp_sock(c);
	case KF_RAW_TP_TEST_RUN:
		return probe_raw_tp_test_run(c);
	case KF_ATOMICS:
		return probe_atomics(c);
	case KF_NET_COOKIE:
		return probe_net_cookie(c);
	case KF_RECURSION_MISSES:
		return probe_recursion_misses(c);
	default:
		return -EINVAL;
	}
}

/* A prefaulted buffer: faulting 5 MB in page by page costs more than the copy. */
static void *buf_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* The vmlinux BTF object, copied in one syscall (IDs for it: 5.11+, CAP_SYS_ADMIN). */
static size_t btf_by_id(struct probe_ctx *c)
{
	struct bpf_btf_info info;
	__u32 id = 0, len;
	char name[16] = "";
	int fd = -1;

	while (!bpf_btf_get_next_id(id, &id)) {
		fd = bpf_btf_get_fd_by_id(id);
		if (fd < 0)
			return 0;
		memset(&info, 0, sizeof(info));
		info.name = (__u64)(unsigned long)name;
		info.name_len = sizeof(name);
		len = sizeof(info);
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.kernel_btf &&
		    !strcmp(name, "vmlinux"))
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0 || !info.btf_size || !(c->btf_data = buf_alloc(info.btf_size))) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	c->btf_size = info.btf_size;
	memset(&info, 0, sizeof(info));
	info.btf = (__u64)(unsigned long)c->btf_data;
	info.btf_size = c->btf_size;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.btf_size != c->btf_size)
		info.btf_size = 0;
	close(fd);
	return info.btf_size;
}

/* Else the sysfs file, read a page per syscall. */
static size_t btf_from_sysfs(struct probe_ctx *c)
{
	int fd = open(VMLINUX_BTF, O_RDONLY | O_CLOEXEC);
	size_t size = 0;
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) || st.st_size <= 0 || !(c->btf_data = buf_alloc(st.st_size))) {
		close(fd);
		return 0;
	}
	c->btf_size = st.st_size;
	while (size < c->btf_size &&
	       (n = read(fd, (char *)c->btf_data + size, c->btf_size - size)) > 0)
		size += n;
	close(fd);
	return size;
}

/* The kernel's BTF (~5 MB), walked once: the probes look types up in it. */
static void read_vmlinux_btf(struct probe_ctx *c)
{
	size_t size = btf_by_id(c);

	if (!size) {
		if (c->btf_data)
			munmap(c->btf_data, c->btf_size);
		c->btf_data = NULL;
		size = btf_from_sysfs(c);
	}
	if (!size || kf_btf_open(&c->btf, c->btf_data, size))
		return;
	c->btf_ok = true;
	c->tp_id = kf_btf_find(&c->btf, "btf_trace_inet_sock_set_state", BTF_KIND_TYPEDEF);
}

int kfeatures_check(char *why, size_t len)
{
	const struct bpf_insn trivial[] = { MOV64_IMM(BPF_REG_0, 0), EXIT };
	struct probe_ctx c = { .tp_id = -ENOENT };
	struct utsname u;
	int fd, missing;

	read_vmlinux_btf(&c);
	/* if even this is refused, the load probes cannot tell anything */
	fd = prog_load(BPF_PROG_TYPE_SOCKET_FILTER, 0, 0, trivial, 2);
	if (fd < 0)
		c.base_err = fd;
	else
		close(fd);
	missing = kfeatures_walk(probe, &c, uname(&u) ? NULL : u.release, why, len);
	kf_btf_close(&c.btf);
	if (c.btf_data)
		munmap(c.btf_data, c.btf_size);
	return missing;
}
