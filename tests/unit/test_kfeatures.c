// SPDX-License-Identifier: GPL-2.0
/*
 * test_kfeatures.c - the start-up kernel check without a kernel: a fake
 * probe says which features are missing and the one-line message is
 * checked word for word; the raw BTF reader is fed hand-made BTF.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <linux/btf.h>

#include "kfeatures.h"
#include "unit.h"

/* The fake probe: features set here are missing, those in errs cannot tell. */
struct fake {
	unsigned int missing; /* bit per enum kfeature_id */
	unsigned int errs;
	int calls;
};

static int fake_probe(enum kfeature_id id, void *ctx)
{
	struct fake *f = ctx;

	f->calls++;
	if (f->errs & (1U << id))
		return -EPERM;
	return !(f->missing & (1U << id));
}

static int walk(struct fake *f, const char *release, char *why, size_t len)
{
	return kfeatures_walk(fake_probe, f, release, why, len);
}

static void test_table(void)
{
	unsigned int maj, min;

	kfeatures_min(&maj, &min);
	ASSERT_EQ(maj, 5, "min major");
	ASSERT_EQ(min, 12, "min minor");
	for (int i = 0; i < KF_COUNT; i++) {
		ASSERT_EQ(kfeatures[i].id, i, "table in enum order");
		ASSERT_TRUE(kfeatures[i].what && kfeatures[i].what[0], "has a name");
		if (i)
			ASSERT_TRUE(kfeatures[i].major > kfeatures[i - 1].major ||
					    (kfeatures[i].major == kfeatures[i - 1].major &&
					     kfeatures[i].minor >= kfeatures[i - 1].minor),
				    "oldest first");
	}
}

static void test_messages(void)
{
	char why[256];
	int n;

	if (SUBTEST("all present")) {
		struct fake f = { 0 };

		strcpy(why, "untouched");
		ASSERT_EQ(walk(&f, "6.18.0", why, sizeof(why)), 0, "none missing");
		ASSERT_STREQ(why, "untouched", "why left alone");
		ASSERT_EQ(f.calls, KF_COUNT, "every feature probed");
	}
	if (SUBTEST("ring buffer missing")) {
		struct fake f = { .missing = 1U << KF_RINGBUF };

		ASSERT_EQ(walk(&f, "5.4.0", why, sizeof(why)), 1, "one missing");
		ASSERT_STREQ(why,
			     "kernel 5.4.0 lacks the BPF ring buffer (Linux 5.8); tcpphase needs "
			     "Linux 5.12 or newer",
			     "message");
	}
	if (SUBTEST("several missing: the oldest is named")) {
		struct fake f = { .missing = 1U << KF_ATOMICS | 1U << KF_RINGBUF |
					     1U << KF_RECURSION_MISSES };

		ASSERT_EQ(walk(&f, "5.4.0-150-generic", why, sizeof(why)), 3, "three missing");
		ASSERT_STREQ(why,
			     "kernel 5.4.0-150-generic lacks the BPF ring buffer (Linux 5.8) and 2 "
			     "more features; tcpphase needs Linux 5.12 or newer",
			     "message");
	}
	if (SUBTEST("one more")) {
		struct fake f = { .missing = 1U << KF_ATOMICS | 1U << KF_NET_COOKIE };

		walk(&f, "5.11.22", why, sizeof(why));
		ASSERT_STREQ(why,
			     "kernel 5.11.22 lacks BPF atomic compare-and-exchange and exchange "
			     "instructions (Linux 5.12) and 1 more feature; tcpphase needs Linux "
			     "5.12 or newer",
			     "message");
	}
	if (SUBTEST("recent kernel built without it")) {
		struct fake f = { .missing = 1U << KF_BTF | 1U << KF_TP_BTF };

		ASSERT_EQ(walk(&f, "6.8.0-31-generic", why, sizeof(why)), 2, "two missing");
		ASSERT_STREQ(
			why,
			"kernel 6.8.0-31-generic lacks kernel BTF at /sys/kernel/btf/vmlinux "
			"(Linux 5.4, CONFIG_DEBUG_INFO_BTF=y) and 1 more feature; it is recent "
			"enough but was built or configured without it",
			"message");
	}
	if (SUBTEST("old kernel without BTF")) {
		struct fake f = { .missing = 1U << KF_BTF };

		walk(&f, "4.19.0", why, sizeof(why));
		ASSERT_STREQ(
			why,
			"kernel 4.19.0 lacks kernel BTF at /sys/kernel/btf/vmlinux (Linux 5.4, "
			"CONFIG_DEBUG_INFO_BTF=y); tcpphase needs Linux 5.12 or newer",
			"message");
	}
	if (SUBTEST("release unknown")) {
		struct fake f = { .missing = 1U << KF_RINGBUF };

		walk(&f, NULL, why, sizeof(why));
		ASSERT_STREQ(why,
			     "this kernel lacks the BPF ring buffer (Linux 5.8); tcpphase needs "
			     "Linux 5.12 or newer",
			     "message");
		walk(&f, "weird", why, sizeof(why));
		ASSERT_STREQ(why,
			     "kernel weird lacks the BPF ring buffer (Linux 5.8); tcpphase needs "
			     "Linux 5.12 or newer",
			     "unparsable release");
	}
	if (SUBTEST("probes that cannot tell are not counted")) {
		struct fake f = { .errs = ~0U };

		strcpy(why, "untouched");
		ASSERT_EQ(walk(&f, "5.4.0", why, sizeof(why)), 0, "nothing missing");
		ASSERT_STREQ(why, "untouched", "why left alone");
		f.missing = 1U << KF_ATOMICS;
		f.errs = 1U << KF_RINGBUF;
		ASSERT_EQ(walk(&f, "5.10.0", why, sizeof(why)), 1, "only the refusal counts");
		ASSERT_TRUE(strstr(why, "atomic") != NULL, "names the refused one");
	}
	if (SUBTEST("short buffer")) {
		struct fake f = { .missing = 1U << KF_RINGBUF };
		char small[17];

		memset(small, 'x', sizeof(small));
		n = walk(&f, "5.4.0", small, 16);
		ASSERT_EQ(n, 1, "still counted");
		ASSERT_EQ(strlen(small), 15, "truncated");
		ASSERT_EQ(small[16], 'x', "no overflow");
	}
}

/* A BTF blob built by hand: types then strings, after the header. */
struct blob {
	uint8_t buf[1024];
	uint32_t types[128];
	uint32_t ntypes; /* 32-bit words */
	char strs[256];
	uint32_t nstrs;
	uint32_t len;
};

static uint32_t str(struct blob *b, const char *s)
{
	uint32_t off = b->nstrs;

	if (!b->nstrs) /* offset 0 is the empty name */
		off = b->nstrs = 1;
	memcpy(b->strs + off, s, strlen(s) + 1);
	b->nstrs = off + strlen(s) + 1;
	return off;
}

static void word(struct blob *b, uint32_t w)
{
	b->types[b->ntypes++] = w;
}

/* struct btf_type: name, info, size or type */
static void type(struct blob *b, const char *name, unsigned int kind, unsigned int vlen,
		 uint32_t size_type)
{
	word(b, name ? str(b, name) : 0);
	word(b, kind << 24 | vlen); /* info: kind, vlen (kind_flag 0) */
	word(b, size_type);
}

static void member(struct blob *b, const char *name, uint32_t type_id, uint32_t bit_off)
{
	word(b, str(b, name));
	word(b, type_id);
	word(b, bit_off);
}

static void *finish(struct blob *b)
{
	struct btf_header h = {
		.magic = BTF_MAGIC,
		.version = BTF_VERSION,
		.hdr_len = sizeof(h),
		.type_off = 0,
		.type_len = b->ntypes * 4,
		.str_off = b->ntypes * 4,
		.str_len = b->nstrs ? b->nstrs : 1,
	};

	if (!b->nstrs)
		b->nstrs = 1;
	memcpy(b->buf, &h, sizeof(h));
	memcpy(b->buf + sizeof(h), b->types, h.type_len);
	memcpy(b->buf + sizeof(h) + h.type_len, b->strs, h.str_len);
	b->len = sizeof(h) + h.type_len + h.str_len;
	return b->buf;
}

/*
 * [1] int "long long unsigned int" (8), [2] typedef "u64" -> 1,
 * [3] struct "net" { ns: 1; net_cookie: cookie_type }, [4] typedef
 * "btf_trace_inet_sock_set_state" -> 5, [5] ptr -> 0, [6] struct
 * "atomic64_t" { counter: 1 }, [7] const -> 2, [8] func_proto (1 param).
 */
static void *vmlinux_like(struct blob *b, uint32_t cookie_type)
{
	memset(b, 0, sizeof(*b));
	type(b, "long long unsigned int", BTF_KIND_INT, 0, 8);
	word(b, 64); /* encoding, offset 0, 64 bits */
	type(b, "u64", BTF_KIND_TYPEDEF, 0, 1);
	type(b, "net", BTF_KIND_STRUCT, 2, 16);
	member(b, "ns", 1, 0);
	member(b, "net_cookie", cookie_type, 64);
	type(b, "btf_trace_inet_sock_set_state", BTF_KIND_TYPEDEF, 0, 5);
	type(b, NULL, BTF_KIND_PTR, 0, 0);
	type(b, "atomic64_t", BTF_KIND_STRUCT, 1, 8);
	member(b, "counter", 1, 0);
	type(b, NULL, BTF_KIND_CONST, 0, 2);
	type(b, NULL, BTF_KIND_FUNC_PROTO, 1, 0);
	word(b, 0); /* struct btf_param: name, type */
	word(b, 1);
	return finish(b);
}

static void test_btf(void)
{
	struct kf_btf k = { 0 };
	struct blob b;
	void *data;
	int net;

	if (SUBTEST("lookups")) {
		data = vmlinux_like(&b, 2);
		if (!ASSERT_OK(kf_btf_open(&k, data, b.len), "open"))
			return;
		ASSERT_EQ(k.n, 8, "types");
		ASSERT_EQ(kf_btf_find(&k, "btf_trace_inet_sock_set_state", BTF_KIND_TYPEDEF), 4,
			  "typedef id");
		ASSERT_EQ(kf_btf_find(&k, "btf_trace_inet_sock_set_state", BTF_KIND_STRUCT),
			  -ENOENT, "kind matters");
		ASSERT_EQ(kf_btf_find(&k, "btf_trace_inet_sock", BTF_KIND_TYPEDEF), -ENOENT,
			  "whole names only");
		net = kf_btf_find(&k, "net", BTF_KIND_STRUCT);
		ASSERT_EQ(net, 3, "struct net");
		ASSERT_EQ(kf_btf_member_int_size(&k, net, "net_cookie"), 8, "u64 via typedef");
		ASSERT_EQ(kf_btf_member_int_size(&k, net, "ns"), 8, "plain int");
		ASSERT_EQ(kf_btf_member_int_size(&k, net, "net_cook"), -ENOENT, "no member");
		ASSERT_EQ(kf_btf_member_int_size(&k, 2, "net_cookie"), -ENOENT, "not a struct");
		ASSERT_EQ(kf_btf_member_int_size(&k, 99, "net_cookie"), -ENOENT, "no such id");
		kf_btf_close(&k);
	}
	if (SUBTEST("qualified")) {
		data = vmlinux_like(&b, 7);
		if (!ASSERT_OK(kf_btf_open(&k, data, b.len), "open"))
			return;
		ASSERT_EQ(kf_btf_member_int_size(&k, 3, "net_cookie"), 8, "const u64");
		kf_btf_close(&k);
	}
	if (SUBTEST("atomic64_t net_cookie, before 5.12")) {
		data = vmlinux_like(&b, 6);
		if (!ASSERT_OK(kf_btf_open(&k, data, b.len), "open"))
			return;
		ASSERT_EQ(kf_btf_member_int_size(&k, 3, "net_cookie"), 0, "a struct, not a u64");
		kf_btf_close(&k);
	}
	if (SUBTEST("refused")) {
		data = vmlinux_like(&b, 2);
		ASSERT_EQ(kf_btf_open(&k, data, 10), -EINVAL, "short header");
		ASSERT_EQ(kf_btf_open(&k, data, b.len - 1), -EINVAL, "truncated strings");
		((struct btf_header *)data)->magic = 0x9feb;
		ASSERT_EQ(kf_btf_open(&k, data, b.len), -EINVAL, "other endianness");
		data = vmlinux_like(&b, 2);
		((struct btf_header *)data)->type_len -= 4; /* cuts the last param */
		ASSERT_EQ(kf_btf_open(&k, data, b.len), -EINVAL, "cut type");
		memset(&b, 0, sizeof(b));
		type(&b, "x", 31, 0, 0); /* a kind from the future */
		data = finish(&b);
		ASSERT_EQ(kf_btf_open(&k, data, b.len), -EINVAL, "unknown kind");
		ASSERT_NULL(k.off, "nothing left allocated");
	}
}

int main(int argc, char **argv)
{
	unit_init(argc, argv);
	RUN_TEST(test_table);
	RUN_TEST(test_messages);
	RUN_TEST(test_btf);
	return unit_summary();
}
