// SPDX-License-Identifier: GPL-2.0
/*
 * kfeatures_core.c - the kernel features tcpphase needs, in one table, the
 * walk that probes them through a callback and says in one line what is
 * missing, and a minimal reader of raw BTF for the probes. No syscalls
 * here: unit-tested with a fake probe and hand-made BTF.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/btf.h>

#include "kfeatures.h"

/*
 * Ordered by version, so the first missing one is the oldest. The
 * versions are those of the mainline commits (see README, "Supported
 * kernels"); they are only ever printed.
 */
const struct kfeature kfeatures[KF_COUNT] = {
	{ KF_STATE_TP, "the sock:inet_sock_set_state tracepoint", 4, 16, NULL },
	{ KF_LOOPS, "BPF bounded loops", 5, 3, NULL },
	{ KF_BTF, "kernel BTF at /sys/kernel/btf/vmlinux", 5, 4, "CONFIG_DEBUG_INFO_BTF=y" },
	{ KF_TP_BTF, "BTF-typed tracepoint programs", 5, 5, NULL },
	{ KF_PROBE_READ_KERNEL, "the bpf_probe_read_kernel() helper", 5, 5, NULL },
	{ KF_JIFFIES64, "the bpf_jiffies64() helper", 5, 5, NULL },
	{ KF_MMAPABLE, "memory-mappable BPF arrays", 5, 5, NULL },
	{ KF_RINGBUF, "the BPF ring buffer", 5, 8, NULL },
	{ KF_SKC_TO_TCP_SOCK, "the bpf_skc_to_tcp_sock() helper in tp_btf programs", 5, 9, NULL },
	{ KF_RAW_TP_TEST_RUN, "BPF_PROG_TEST_RUN for raw_tp programs", 5, 10, NULL },
	{ KF_ATOMICS, "BPF atomic compare-and-exchange and exchange instructions", 5, 12, NULL },
	{ KF_NET_COOKIE, "a u64 net_cookie in struct net", 5, 12, NULL },
	{ KF_RECURSION_MISSES, "recursion_misses in bpf_prog_info", 5, 12, NULL },
};

static int version_cmp(unsigned int amaj, unsigned int amin, unsigned int bmaj, unsigned int bmin)
{
	if (amaj != bmaj)
		return amaj < bmaj ? -1 : 1;
	if (amin != bmin)
		return amin < bmin ? -1 : 1;
	return 0;
}

void kfeatures_min(unsigned int *major, unsigned int *minor)
{
	*major = 0;
	*minor = 0;
	for (int i = 0; i < KF_COUNT; i++)
		if (version_cmp(kfeatures[i].major, kfeatures[i].minor, *major, *minor) > 0) {
			*major = kfeatures[i].major;
			*minor = kfeatures[i].minor;
		}
}

int kfeatures_walk(kfeature_probe_fn probe, void *ctx, const char *release, char *why, size_t len)
{
	const struct kfeature *first = NULL;
	unsigned int maj, min, rmaj, rmin;
	char more[48] = "", cfg[64] = "";
	bool recent;
	int missing = 0;

	for (int i = 0; i < KF_COUNT; i++) {
		if (probe(kfeatures[i].id, ctx) != 0)
			continue; /* present, or it could not tell: the load will */
		if (!first)
			first = &kfeatures[i];
		missing++;
	}
	if (!missing)
		return 0;
	kfeatures_min(&maj, &min);
	/* only the wording depends on the version: a recent kernel lacks it by configuration */
	recent = release && sscanf(release, "%u.%u", &rmaj, &rmin) == 2 &&
		 version_cmp(rmaj, rmin, maj, min) >= 0;
	if (missing > 1)
		snprintf(more, sizeof(more), " and %d more feature%s", missing - 1,
			 missing > 2 ? "s" : "");
	if (first->config)
		snprintf(cfg, sizeof(cfg), ", %s", first->config);
	if (recent)
		snprintf(why, len,
			 "kernel %s lacks %s (Linux %u.%u%s)%s; it is recent enough but was "
			 "built or configured without it",
			 release, first->what, first->major, first->minor, cfg, more);
	else
		snprintf(why, len,
			 "%s%s lacks %s (Linux %u.%u%s)%s; tcpphase needs Linux %u.%u or newer",
			 release ? "kernel " : "this kernel", release ? release : "", first->what,
			 first->major, first->minor, cfg, more, maj, min);
	return missing;
}

/* What follows a struct btf_type of this kind, or -1 for a kind we do not know. */
static long btf_tail(const struct btf_type *t)
{
	unsigned long vlen = BTF_INFO_VLEN(t->info);

	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_INT:
	case BTF_KIND_VAR:
	case BTF_KIND_DECL_TAG:
		return 4;
	case BTF_KIND_PTR:
	case BTF_KIND_FWD:
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_FUNC:
	case BTF_KIND_FLOAT:
	case BTF_KIND_TYPE_TAG:
		return 0;
	case BTF_KIND_ARRAY:
		return sizeof(struct btf_array);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		return vlen * sizeof(struct btf_member);
	case BTF_KIND_ENUM:
		return vlen * sizeof(struct btf_enum);
	case BTF_KIND_ENUM64:
		return vlen * sizeof(struct btf_enum64);
	case BTF_KIND_FUNC_PROTO:
		return vlen * sizeof(struct btf_param);
	case BTF_KIND_DATASEC:
		return vlen * sizeof(struct btf_var_secinfo);
	default:
		return -1;
	}
}

int kf_btf_open(struct kf_btf *b, const void *data, size_t size)
{
	const struct btf_header *h = data;
	uint32_t cap = 0, pos = 0;

	memset(b, 0, sizeof(*b));
	if (size < sizeof(*h) || h->magic != BTF_MAGIC || h->hdr_len < sizeof(*h) ||
	    h->hdr_len > size || (uint64_t)h->hdr_len + h->type_off + h->type_len > size ||
	    (uint64_t)h->hdr_len + h->str_off + h->str_len > size || h->type_off % 4)
		return -EINVAL;
	b->types = (const uint8_t *)data + h->hdr_len + h->type_off;
	b->types_len = h->type_len;
	b->strs = (const uint8_t *)data + h->hdr_len + h->str_off;
	b->strs_len = h->str_len;
	while (pos < b->types_len) {
		const struct btf_type *t = (const void *)(b->types + pos);
		long tail;

		if (b->types_len - pos < sizeof(*t) || (tail = btf_tail(t)) < 0 ||
		    b->types_len - pos - sizeof(*t) < (unsigned long)tail)
			goto bad;
		if (b->n == cap) {
			uint32_t *off;

			cap = cap ? cap * 2 : 4096;
			off = realloc(b->off, cap * sizeof(*off));
			if (!off)
				goto bad;
			b->off = off;
		}
		b->off[b->n++] = pos;
		pos += sizeof(*t) + tail;
	}
	return 0;
bad:
	kf_btf_close(b);
	return -EINVAL;
}

void kf_btf_close(struct kf_btf *b)
{
	free(b->off);
	memset(b, 0, sizeof(*b));
}

static const struct btf_type *btf_type(const struct kf_btf *b, uint32_t id)
{
	return id && id <= b->n ? (const void *)(b->types + b->off[id - 1]) : NULL;
}

static bool btf_name_is(const struct kf_btf *b, uint32_t name_off, const char *name)
{
	size_t n = strlen(name);

	return name_off < b->strs_len && b->strs_len - name_off > n &&
	       !memcmp(b->strs + name_off, name, n + 1);
}

int kf_btf_find(const struct kf_btf *b, const char *name, unsigned int kind)
{
	for (uint32_t id = 1; id <= b->n; id++) {
		const struct btf_type *t = btf_type(b, id);

		if (BTF_INFO_KIND(t->info) == kind && btf_name_is(b, t->name_off, name))
			return (int)id;
	}
	return -ENOENT;
}

int kf_btf_member_int_size(const struct kf_btf *b, int struct_id, const char *member)
{
	const struct btf_type *t = btf_type(b, struct_id);
	const struct btf_member *m;

	if (!t || BTF_INFO_KIND(t->info) != BTF_KIND_STRUCT)
		return -ENOENT;
	m = (const void *)(t + 1);
	for (unsigned int i = 0; i < BTF_INFO_VLEN(t->info); i++, m++) {
		if (!btf_name_is(b, m->name_off, member))
			continue;
		t = btf_type(b, m->type);
		/* through typedefs and qualifiers, a bounded number of them */
		for (int hops = 0; t && hops < 32; hops++) {
			switch (BTF_INFO_KIND(t->info)) {
			case BTF_KIND_TYPEDEF:
			case BTF_KIND_VOLATILE:
			case BTF_KIND_CONST:
			case BTF_KIND_RESTRICT:
			case BTF_KIND_TYPE_TAG:
				t = btf_type(b, t->type);
				continue;
			case BTF_KIND_INT:
				return (int)t->size;
			default:
				return 0;
			}
		}
		return 0;
	}
	return -ENOENT;
}
