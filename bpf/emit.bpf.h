/* SPDX-License-Identifier: GPL-2.0 */
/*
 * emit.bpf.h - how records leave the kernel: the BPF ring buffer (with its
 * wake-up policy) and the lock-free per-CPU rings of aggregated records.
 */
#ifndef __EMIT_BPF_H
#define __EMIT_BPF_H

/* Submits between two reads of the ring buffer's fill level (a power of two). */
#define FILL_CHECK_EVERY 64

/* Reserve a record; on failure count the loss. */
static __always_inline struct event *event_reserve(void)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		count(CNT_RB_DROPS);
	return e;
}

/*
 * Submit without waking the reader (it polls on a timer) unless the
 * buffer is filling up: wakeups, not BPF work, are what costs throughput.
 */
static __always_inline __u64 submit_flags(void)
{
	__u32 zero = 0;
	__u32 *n = bpf_map_lookup_elem(&submits, &zero);

	/* the fill level is read once per FILL_CHECK_EVERY submits here: it costs */
	if (n && (++*n & (FILL_CHECK_EVERY - 1)))
		return BPF_RB_NO_WAKEUP;
	if (!wakeup_bytes || bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		return 0;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void event_submit(struct event *e)
{
	bpf_ringbuf_submit(e, submit_flags());
}

/*
 * This CPU's ring: claim the next record, or NULL when the ring holds
 * 'room' records or more (room: at most its size). A claim is a
 * compare-and-swap on the head, so a softirq that interrupts us here claims
 * the next position.
 */
static __always_inline struct agg_ring_rec *ring_claim(__u64 *pos, __u64 room)
{
	__u32 cpu = bpf_get_smp_processor_id(), idx;
	__u64 mask = (1ULL << agg_ring_bits) - 1, at;
	struct agg_ring_pos *p = bpf_map_lookup_elem(&agg_ring_pos, &cpu);

	if (!p)
		return NULL;
	for (int i = 0; i < 4; i++) {
		at = p->head;
		if (at - p->tail >= room)
			return NULL;
		if (__sync_val_compare_and_swap(&p->head, at, at + 1) == at) {
			/* the reader polls on a timer: wake it when this ring is a quarter full */
			if (at - p->tail == (mask + 1) / 4) {
				struct ring_wakeup w = { .pos = at };

				bpf_ringbuf_output(&events, &w, sizeof(w), BPF_RB_FORCE_WAKEUP);
			}
			*pos = at;
			idx = cpu << agg_ring_bits | (at & mask);
			/* a claimed position never published is skipped by user space */
			return bpf_map_lookup_elem(&agg_ring, &idx);
		}
	}
	return NULL;
}

/*
 * Publish a claimed record: its seq, written last. On x86 stores are seen
 * in program order (and the JIT keeps ours in order), so a plain store
 * after a compiler barrier is a release; a locked exchange there would wait
 * for the record's stores to cold ring lines to complete (a quarter of the
 * state program's time in a profile). Elsewhere: a full barrier.
 */
static __always_inline void ring_publish(struct agg_ring_rec *r, __u64 pos)
{
#ifdef __TARGET_ARCH_x86
	asm volatile("" ::: "memory");
	*(volatile __u64 *)&r->seq = pos + 1;
#else
	__sync_lock_test_and_set(&r->seq, pos + 1);
#endif
}

/* Put an EV_AGG record on this CPU's ring; a full ring drops it, counted. */
static __always_inline void agg_output(const struct agg_event *rec, __u64 lost_events)
{
	struct agg_ring_rec *r;
	__u64 pos;

	r = ring_claim(&pos, 1ULL << agg_ring_bits);
	if (!r) {
		count_n(CNT_RB_DROPS, lost_events);
		return;
	}
	/*
	 * Only the steps taken are copied: the ring's lines are cold, and each
	 * one written costs (a closed socket has five steps).
	 */
	if (rec->n_steps <= AGG_STEPS_MOST)
		__builtin_memcpy(&r->rec, rec,
				 offsetof(struct agg_event, steps) +
					 sizeof(rec->steps[0]) * AGG_STEPS_MOST);
	else
		__builtin_memcpy(&r->rec, rec, offsetof(struct agg_event, head));
	__builtin_memcpy(&r->rec.head, &rec->head, sizeof(*rec) - offsetof(struct agg_event, head));
	ring_publish(r, pos);
}

/* Copy a prepared record into the ring buffer; lost_events counted on failure. */
static __always_inline void output(void *rec, __u64 size, __u64 lost_events)
{
	if (bpf_ringbuf_output(&events, rec, size, submit_flags()))
		count_n(CNT_RB_DROPS, lost_events);
}

#endif /* __EMIT_BPF_H */
