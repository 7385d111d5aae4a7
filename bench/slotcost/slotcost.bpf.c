// SPDX-License-Identifier: GPL-2.0
/*
 * slotcost.bpf.c - what finding a socket's state costs, two ways, on the
 * same events: tcpphase's hashed slot array (bpf/slots.bpf.h) and
 * socket-local storage (BPF_MAP_TYPE_SK_STORAGE, bpf_sk_storage_get from
 * tp_btf). All programs attach to sock:inet_sock_set_state, so each sees
 * every state change under the same load: their ns/run (bpf_stats) pair
 * event by event. Each does the same work once it has the state: a
 * 16-byte step written, the state claimed at the first change and let go
 * at "-> CLOSE". 'hook_floor' is an empty program, the hook's own price.
 * The value is 384 bytes, 64-byte aligned, like struct sock_slot.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define SLOT_BITS 16
#define SLOT_PROBES 4
#define STEPS 8

struct step {
	__u64 ts_ns;
	__u8 oldstate, newstate, pad[6];
};

struct sstate {
	__u64 sk; /* owner, 0 if free */
	__u8 n_steps;
	__u8 pad[7];
	struct step steps[STEPS];
	__u8 rest[384 - 16 - 16 * STEPS];
} __attribute__((aligned(64)));

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << SLOT_BITS);
	__type(key, __u32);
	__type(value, struct sstate);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sstate);
} stor SEC(".maps");

__u64 misses_slot, misses_stor;

static __always_inline void work(struct sstate *s, __u64 sk, int oldstate, int newstate)
{
	__u8 n = s->n_steps;
	struct step *st = &s->steps[n & (STEPS - 1)];

	st->ts_ns = bpf_ktime_get_ns();
	st->oldstate = oldstate;
	st->newstate = newstate;
	s->n_steps = n + 1;
	if (newstate == TCP_CLOSE)
		s->sk = 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(hook_floor, const struct sock *sk, int oldstate, int newstate)
{
	return 0;
}

/* as bpf/slots.bpf.h: the pointer hashed through per-CPU memory, probed, claimed by CAS */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(slot, const struct sock *sk, int oldstate, int newstate)
{
	__u32 zero = 0, h = 0, free = ~0U, mask = (1U << SLOT_BITS) - 1;
	volatile __u64 *v = bpf_map_lookup_elem(&scratch, &zero);
	__u64 ptr = (__u64)sk, x;
	struct sstate *s;

	if (sk->sk_protocol != IPPROTO_TCP || !v)
		return 0;
	for (int i = 0; i < 8; i++) {
		*v = ptr;
		x = *v;
		h = ((__u32)x * 0x9E3779B1U) >> (32 - SLOT_BITS);
		asm volatile("" : "+r"(h));
		if (x == ptr)
			break;
	}
	for (int i = 0; i < SLOT_PROBES; i++) {
		__u32 j = (h + i) & mask;

		s = bpf_map_lookup_elem(&slots, &j);
		if (!s)
			return 0;
		if (s->sk == ptr) {
			work(s, ptr, oldstate, newstate);
			return 0;
		}
		if (!s->sk && free == ~0U)
			free = j;
	}
	if (free == ~0U) {
		misses_slot++;
		return 0;
	}
	s = bpf_map_lookup_elem(&slots, &free);
	if (!s || __sync_val_compare_and_swap(&s->sk, 0, ptr))
		return 0;
	s->n_steps = 0;
	work(s, ptr, oldstate, newstate);
	return 0;
}

/* the same in socket-local storage: created at the socket's first change */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(stor_get, const struct sock *sk, int oldstate, int newstate)
{
	struct sstate *s;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	s = bpf_sk_storage_get(&stor, (struct sock *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s) {
		misses_stor++;
		return 0;
	}
	if (s->sk != (__u64)sk) {
		s->sk = (__u64)sk;
		s->n_steps = 0;
	}
	work(s, (__u64)sk, oldstate, newstate);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
