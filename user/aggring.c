// SPDX-License-Identifier: GPL-2.0
/*
 * aggring.c - the per-CPU rings on the loader's side (aggring.h): their
 * size, their mappings, and the slots read at exit. What the memory holds
 * is read by aggread.c; the reorder stage merges the records with the ring
 * buffer's events in time order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "aggring.h"
#include "reorder.h"
#include "tcpphase.skel.h"

/* At most this much kernel memory for the rings, whatever the CPU count. */
#define RING_BUDGET (64U << 20)
#define RING_MIN_BITS 9
#define RING_MAX_BITS 15

static size_t page_round(size_t n)
{
	size_t page = sysconf(_SC_PAGESIZE);

	return (n + page - 1) / page * page;
}

int aggring_configure(struct aggring *ar, struct tcpphase_bpf *s, struct log *log)
{
	int ncpus = libbpf_num_possible_cpus();
	uint32_t bits = RING_MAX_BITS;

	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	if (ncpus > MAX_RING_CPUS) {
		log_warn(log, "%d CPUs: transitions are sent one by one, not aggregated", ncpus);
		s->rodata->aggregate = false;
		ncpus = 1;
	}
	while (bits > RING_MIN_BITS &&
	       ((size_t)ncpus << bits) * sizeof(struct agg_ring_rec) > RING_BUDGET)
		bits--;
	s->rodata->agg_ring_bits = bits;
	ar->rd.cpus = ncpus;
	ar->rd.bits = bits;
	if (bpf_map__set_max_entries(s->maps.agg_ring, (uint32_t)ncpus << bits) ||
	    bpf_map__set_max_entries(s->maps.agg_ring_pos, ncpus))
		return -EINVAL;
	return 0;
}

int aggring_open(struct aggring *ar, struct tcpphase_bpf *s)
{
	size_t n = (size_t)ar->rd.cpus << ar->rd.bits;
	void *p;

	if (!s->rodata->aggregate)
		return 0;

	ar->ring_len = page_round(n * sizeof(struct agg_ring_rec));
	ar->pos_len = page_round(ar->rd.cpus * sizeof(struct agg_ring_pos));
	p = mmap(NULL, ar->ring_len, PROT_READ, MAP_SHARED, bpf_map__fd(s->maps.agg_ring), 0);
	if (p == MAP_FAILED)
		return -errno;
	ar->rd.ring = p;
	p = mmap(NULL, ar->pos_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		 bpf_map__fd(s->maps.agg_ring_pos), 0);
	if (p == MAP_FAILED)
		return -errno;
	ar->rd.pos = p;
	return 0;
}

void aggring_close(struct aggring *ar)
{
	if (ar->rd.ring)
		munmap((void *)ar->rd.ring, ar->ring_len);
	if (ar->rd.pos)
		munmap(ar->rd.pos, ar->pos_len);
	ar->rd.ring = NULL;
	ar->rd.pos = NULL;
}

/* ring_read's callback: CPU c's records are the reorder stage's way 1 + c. */
static void to_reorder(void *ctx, int cpu, const struct agg_event *a)
{
	reorder_agg(ctx, 1 + cpu, a);
}

static size_t held_by_reorder(void *ctx, int cpu)
{
	return reorder_held_way(ctx, 1 + cpu);
}

int aggring_consume(struct aggring *ar, struct reorder *ro, uint64_t now)
{
	return ring_read(&ar->rd, now, to_reorder, ro);
}

void aggring_release(struct aggring *ar, struct reorder *ro)
{
	ring_release(&ar->rd, held_by_reorder, ro);
}

/*
 * Sockets still open when tracing stops have their transitions in their
 * slots, and a request may wait for a child that never came: hand them on
 * so that the table can settle them (as in progress) like any other.
 */
void drain_slots(struct tcpphase_bpf *s, drain_agg_fn agg, drain_event_fn event, void *ctx,
		 struct log *log)
{
	struct bpf_map *m = s->maps.sock_slots;
	size_t n = bpf_map__max_entries(m), len = page_round(n * sizeof(struct sock_slot));
	int ncpus = libbpf_num_possible_cpus();
	struct sock_slot *slots;
	struct req_wait *w;
	struct event ev[2];
	struct agg_event a;
	__u32 zero = 0;

	if (!s->rodata->aggregate)
		return;
	slots = mmap(NULL, len, PROT_READ, MAP_SHARED, bpf_map__fd(m), 0);
	if (slots == MAP_FAILED) {
		log_warn(log, "cannot read the open sockets' slots: %s", strerror(errno));
	} else {
		for (size_t i = 0; i < n; i++)
			if (slot_record(&slots[i], &a))
				agg(ctx, &a);
		munmap(slots, len);
	}
	w = ncpus > 0 ? calloc(ncpus, sizeof(*w)) : NULL;
	if (w && !bpf_map_lookup_elem(bpf_map__fd(s->maps.req_waits), &zero, w)) {
		for (int c = 0; c < ncpus; c++)
			for (int i = 0, k = req_wait_events(&w[c], ev); i < k; i++)
				event(ctx, &ev[i]);
	}
	free(w);
}
