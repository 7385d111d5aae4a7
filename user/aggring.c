// SPDX-License-Identifier: GPL-2.0
/*
 * aggring.c - read the per-CPU rings of EV_AGG records and TIME_WAIT events
 * (see struct agg_ring_rec in bpf/tcpphase.h): sized before load, mmap'ed
 * after it, drained on every pass of the poll loop into the reorder stage,
 * which merges them with the ring buffer's events in time order. At exit,
 * also what the aggregation slots still hold.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tracer.h"
#include "tcpphase.skel.h"

/* At most this much kernel memory for the rings, whatever the CPU count. */
#define RING_BUDGET (64U << 20)
#define RING_MIN_BITS 9
#define RING_MAX_BITS 15

/* A position that stays unpublished this long was lost to a failed claim. */
#define STUCK_NS 1000000000ULL

static size_t page_round(size_t n)
{
	size_t page = sysconf(_SC_PAGESIZE);

	return (n + page - 1) / page * page;
}

int aggring_configure(struct tracer *t)
{
	struct tcpphase_bpf *s = t->skel;
	int ncpus = libbpf_num_possible_cpus();
	uint32_t bits = RING_MAX_BITS;

	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	if (ncpus > MAX_RING_CPUS) {
		die_msg("warning: %d CPUs: transitions are sent one by one, not aggregated", ncpus);
		s->rodata->aggregate = false;
		ncpus = 1;
	}
	while (bits > RING_MIN_BITS &&
	       ((size_t)ncpus << bits) * sizeof(struct agg_ring_rec) > RING_BUDGET)
		bits--;
	s->rodata->agg_ring_bits = bits;
	t->ring_cpus = ncpus;
	if (bpf_map__set_max_entries(s->maps.agg_ring, (uint32_t)ncpus << bits) ||
	    bpf_map__set_max_entries(s->maps.agg_ring_pos, ncpus))
		return -EINVAL;
	return 0;
}

int aggring_open(struct tracer *t)
{
	struct tcpphase_bpf *s = t->skel;
	size_t n = (size_t)t->ring_cpus << s->rodata->agg_ring_bits;

	if (!s->rodata->aggregate)
		return 0;

	t->ring_len = page_round(n * sizeof(struct agg_ring_rec));
	t->pos_len = page_round(t->ring_cpus * sizeof(struct agg_ring_pos));
	t->ring = mmap(NULL, t->ring_len, PROT_READ, MAP_SHARED, bpf_map__fd(s->maps.agg_ring), 0);
	if (t->ring == MAP_FAILED) {
		t->ring = NULL;
		return -errno;
	}
	t->ring_pos = mmap(NULL, t->pos_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			   bpf_map__fd(s->maps.agg_ring_pos), 0);
	if (t->ring_pos == MAP_FAILED) {
		t->ring_pos = NULL;
		return -errno;
	}
	return 0;
}

void aggring_close(struct tracer *t)
{
	if (t->ring)
		munmap((void *)t->ring, t->ring_len);
	if (t->ring_pos)
		munmap(t->ring_pos, t->pos_len);
	t->ring = NULL;
	t->ring_pos = NULL;
}

/*
 * Hand every published record to the reorder stage, CPU by CPU; returns
 * how many. The reorder stage reads them in the ring: the ring's tail
 * moves only once they are handed on (aggring_release).
 */
int aggring_consume(struct tracer *t, uint64_t now)
{
	uint32_t bits = t->skel->rodata->agg_ring_bits;
	uint64_t mask = (1ULL << bits) - 1;
	int n = 0;

	if (!t->ring)
		return 0;
	for (int c = 0; c < t->ring_cpus; c++) {
		struct agg_ring_pos *p = &t->ring_pos[c];
		uint64_t pos = t->ring_read[c], head = __atomic_load_n(&p->head, __ATOMIC_ACQUIRE);

		while (pos != head) {
			const struct agg_ring_rec *r = &t->ring[(uint64_t)c << bits | (pos & mask)];

			if (__atomic_load_n(&r->seq, __ATOMIC_ACQUIRE) != pos + 1) {
				/* claimed, not yet published: wait, unless it never will be */
				if (!t->ring_stuck_since[c] || t->ring_stuck_pos[c] != pos) {
					t->ring_stuck_since[c] = now;
					t->ring_stuck_pos[c] = pos;
					break;
				}
				if (now - t->ring_stuck_since[c] < STUCK_NS)
					break;
				t->ring_skipped++;
				/* queued as a hole: the producer waits until it is passed */
				reorder_agg(t->reorder, 1 + c, NULL);
				pos++;
				continue;
			}
			reorder_agg(t->reorder, 1 + c, &r->rec);
			pos++;
			n++;
		}
		t->ring_read[c] = pos;
	}
	return n;
}

/* Give the producers back what the reorder stage has handed on. */
void aggring_release(struct tracer *t)
{
	for (int c = 0; c < t->ring_cpus && t->ring; c++)
		__atomic_store_n(&t->ring_pos[c].tail,
				 t->ring_read[c] - reorder_held_way(t->reorder, 1 + c),
				 __ATOMIC_RELEASE);
}

/*
 * Sockets still open when tracing stops have their transitions in their
 * slots, and a request may wait for a child that never came: feed them so
 * that the table can settle them (as in progress) like any other.
 */
void drain_slots(struct tracer *t)
{
	struct bpf_map *m = t->skel->maps.sock_slots;
	size_t n = bpf_map__max_entries(m), len = page_round(n * sizeof(struct sock_slot));
	int ncpus = libbpf_num_possible_cpus();
	struct sock_slot *slots;
	struct req_wait *w;
	__u32 zero = 0;

	if (!t->skel->rodata->aggregate)
		return;
	slots = mmap(NULL, len, PROT_READ, MAP_SHARED, bpf_map__fd(m), 0);
	if (slots == MAP_FAILED) {
		die_msg("warning: cannot read the open sockets' slots: %s", strerror(errno));
	} else {
		for (size_t i = 0; i < n; i++) {
			struct agg_event a = slots[i].rec;
			const struct agg_step *last;

			if (!slots[i].sk || a.n_steps < 1 || a.n_steps > AGG_STEPS)
				continue;
			last = &a.steps[a.n_steps - 1];
			a.head.type = EV_AGG;
			a.head.id = slots[i].sk;
			a.head.ts_ns = last->ts_ns;
			a.head.oldstate = last->oldstate;
			a.head.newstate = last->newstate;
			a.head.aux = 0;
			feed_agg(t, &a);
		}
		munmap(slots, len);
	}
	w = ncpus > 0 ? calloc(ncpus, sizeof(*w)) : NULL;
	if (w && !bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.req_waits), &zero, w)) {
		for (int c = 0; c < ncpus; c++) {
			if (!w[c].pending || w[c].sent)
				continue;
			w[c].ev.type = EV_REQ_START;
			feed_event(t, &w[c].ev);
			w[c].ev.type = EV_REQ_CANCEL;
			w[c].ev.ts_ns = w[c].cancel_ns;
			feed_event(t, &w[c].ev);
		}
	}
	free(w);
}
