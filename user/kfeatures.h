/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kfeatures.h - what the running kernel must have for tcpphase, checked
 * at start-up by probing each feature (never by version number), so that
 * an older kernel gets one line naming what it lacks instead of a verifier
 * dump. The mainline version of each feature only appears in that line.
 *
 * The pure part (kfeatures_core.c: the table, its walk and the message,
 * and a minimal reader of raw BTF) has no libbpf and no syscalls; the
 * probes themselves are in kfeatures.c.
 */
#ifndef __KFEATURES_H
#define __KFEATURES_H

#include <stddef.h>
#include <stdint.h>

/* In the order of the table: by the kernel version that brought each one. */
enum kfeature_id {
	KF_STATE_TP, /* sock:inet_sock_set_state (4.16) */
	KF_LOOPS, /* bounded loops (5.3) */
	KF_BTF, /* /sys/kernel/btf/vmlinux (5.4) */
	KF_TP_BTF, /* BPF_PROG_TYPE_TRACING + BPF_TRACE_RAW_TP (5.5) */
	KF_PROBE_READ_KERNEL, /* bpf_probe_read_kernel() (5.5) */
	KF_JIFFIES64, /* bpf_jiffies64() (5.5) */
	KF_MMAPABLE, /* BPF_F_MMAPABLE arrays (5.5) */
	KF_RINGBUF, /* BPF_MAP_TYPE_RINGBUF (5.8) */
	KF_SKC_TO_TCP_SOCK, /* bpf_skc_to_tcp_sock() in tp_btf (5.9) */
	KF_RAW_TP_TEST_RUN, /* BPF_PROG_TEST_RUN of raw_tp (5.10) */
	KF_ATOMICS, /* BPF_ATOMIC cmpxchg/xchg (5.12) */
	KF_NET_COOKIE, /* struct net's u64 net_cookie (5.12) */
	KF_RECURSION_MISSES, /* bpf_prog_info.recursion_misses (5.12) */
	KF_COUNT
};

struct kfeature {
	enum kfeature_id id;
	const char *what; /* "the BPF ring buffer": reads after "lacks" */
	unsigned int major, minor; /* the mainline release that brought it */
	const char *config; /* the kernel option it also needs, or NULL */
};

extern const struct kfeature kfeatures[KF_COUNT];

/* A probe: 1 present, 0 missing, -errno when it cannot tell (then ignored). */
typedef int (*kfeature_probe_fn)(enum kfeature_id id, void *ctx);

/*
 * Probe every feature of the table in order. When one or more are missing,
 * write one line into why (the first missing one, how many more, the
 * oldest kernel tcpphase supports; release is uname's, NULL if unknown)
 * and return the number missing; 0 when none is.
 */
int kfeatures_walk(kfeature_probe_fn probe, void *ctx, const char *release, char *why, size_t len);

/* The oldest supported kernel: the newest version in the table. */
void kfeatures_min(unsigned int *major, unsigned int *minor);

/*
 * The real probes (kfeatures.c): 0 when this kernel has everything,
 * else non-zero with why set. Needs the privileges tcpphase needs; takes
 * a few milliseconds and leaves nothing behind (every fd is closed).
 */
int kfeatures_check(char *why, size_t len);

/*
 * Raw BTF, as /sys/kernel/btf/vmlinux gives it: just what the probes need,
 * without the cost of libbpf's full parse (~50 ms for vmlinux).
 */
struct kf_btf {
	const uint8_t *types, *strs;
	uint32_t types_len, strs_len;
	uint32_t *off; /* off[id - 1]: where type id starts in types */
	uint32_t n; /* types, ids 1..n */
};

/* 0, or -EINVAL if data is not BTF this walk understands. */
int kf_btf_open(struct kf_btf *b, const void *data, size_t size);
void kf_btf_close(struct kf_btf *b);
/* The id of the type of this kind (BTF_KIND_*) and name, or -ENOENT. */
int kf_btf_find(const struct kf_btf *b, const char *name, unsigned int kind);
/*
 * Member member of struct struct_id: its size in bytes if its type is an
 * integer (through typedefs and qualifiers), 0 if it is something else,
 * -ENOENT if the struct has no such member.
 */
int kf_btf_member_int_size(const struct kf_btf *b, int struct_id, const char *member);

#endif /* __KFEATURES_H */
