// SPDX-License-Identifier: GPL-2.0
/*
 * test_aggread.c - reading the aggregation's shared memory without BPF
 * (aggread.c): the per-CPU rings read in position order, a record only
 * once its seq says it is published, a position never published skipped
 * as a hole after RING_STUCK_NS, the producers given back only what the
 * caller no longer holds; and the slots and request waits left at exit.
 */
#include <string.h>

#include "aggread.h"
#include "unit.h"

#define CPUS 2
#define BITS 2 /* 4 records per ring */
#define SIZE (1U << BITS)

static struct agg_ring_rec ring[CPUS << BITS];
static struct agg_ring_pos pos[CPUS];

static struct {
	int cpu[32];
	uint64_t id[32]; /* 0: a hole */
	int n;
	size_t held[CPUS];
} got;

static void on_rec(void *ctx, int cpu, const struct agg_event *a)
{
	if (got.n < 32) {
		got.cpu[got.n] = cpu;
		got.id[got.n] = a ? a->head.id : 0;
	}
	got.n++;
}

static size_t held(void *ctx, int cpu)
{
	return got.held[cpu];
}

/*
 * Claim CPU c's next position, as BPF does: the record written, its seq
 * (last) only once published; a claim leaves the last lap's seq in place.
 */
static void produce(int c, uint64_t id, bool published)
{
	uint64_t at = pos[c].head++;
	struct agg_ring_rec *r = &ring[c << BITS | (at & (SIZE - 1))];

	r->rec.head.id = id;
	if (published)
		r->seq = at + 1;
}

static void reset(struct ring_reader *r)
{
	memset(ring, 0, sizeof(ring));
	memset(pos, 0, sizeof(pos));
	memset(&got, 0, sizeof(got));
	memset(r, 0, sizeof(*r));
	r->ring = ring;
	r->pos = pos;
	r->cpus = CPUS;
	r->bits = BITS;
}

static struct ring_reader reader; /* 24 KiB: not on the stack */

static void test_ring(void)
{
	struct ring_reader *r = &reader;

	if (SUBTEST("in order, CPU by CPU")) {
		reset(r);
		produce(0, 1, true);
		produce(1, 10, true);
		produce(0, 2, true);
		ASSERT_EQ(ring_read(r, 1, on_rec, NULL), 3, "read");
		ASSERT_EQ(got.n, 3, "handed out");
		ASSERT_TRUE(got.id[0] == 1 && got.id[1] == 2 && got.id[2] == 10, "order");
		ASSERT_TRUE(got.cpu[0] == 0 && got.cpu[2] == 1, "cpus");
		ASSERT_EQ(ring_read(r, 2, on_rec, NULL), 0, "nothing new");
	}
	if (SUBTEST("claimed, not published: waited for")) {
		reset(r);
		produce(0, 1, false);
		produce(0, 2, true);
		ASSERT_EQ(ring_read(r, 1000, on_rec, NULL), 0, "first pass");
		ASSERT_EQ(ring_read(r, 1000 + RING_STUCK_NS - 1, on_rec, NULL), 0, "not yet");
		ASSERT_EQ(r->skipped, 0, "nothing skipped");
		/* published at last: both come, in order */
		ring[0].seq = 1;
		ASSERT_EQ(ring_read(r, 1000 + RING_STUCK_NS, on_rec, NULL), 2, "both");
		ASSERT_TRUE(got.id[0] == 1 && got.id[1] == 2, "order");
	}
	if (SUBTEST("never published: a hole, counted")) {
		reset(r);
		produce(0, 1, false);
		produce(0, 2, true);
		ASSERT_EQ(ring_read(r, 1000, on_rec, NULL), 0, "seen stuck");
		ASSERT_EQ(ring_read(r, 1000 + RING_STUCK_NS, on_rec, NULL), 1, "skipped past");
		ASSERT_EQ(r->skipped, 1, "skipped");
		ASSERT_EQ(got.n, 2, "hole and record");
		ASSERT_TRUE(got.id[0] == 0 && got.id[1] == 2, "the hole first");
	}
	if (SUBTEST("a stale seq from the last lap is not published")) {
		reset(r);
		for (int i = 0; i < (int)SIZE; i++)
			produce(0, 1 + i, true);
		ASSERT_EQ(ring_read(r, 1, on_rec, NULL), SIZE, "first lap");
		ring_release(r, held, NULL);
		/* the next lap's first position still holds seq 1 from the last */
		produce(0, 99, false);
		ASSERT_EQ(ring_read(r, 2, on_rec, NULL), 0, "not taken");
	}
	if (SUBTEST("released: what the caller no longer holds")) {
		reset(r);
		for (int i = 0; i < 3; i++)
			produce(1, 1 + i, true);
		ring_read(r, 1, on_rec, NULL);
		got.held[1] = 2;
		ring_release(r, held, NULL);
		ASSERT_EQ(pos[1].tail, 1, "two still held");
		got.held[1] = 0;
		ring_release(r, held, NULL);
		ASSERT_EQ(pos[1].tail, 3, "all given back");
		ASSERT_EQ(pos[0].tail, 0, "other CPU untouched");
	}
	if (SUBTEST("no rings mapped")) {
		reset(r);
		r->ring = NULL;
		produce(0, 1, true);
		ASSERT_EQ(ring_read(r, 1, on_rec, NULL), 0, "nothing read");
	}
}

static void test_exit(void)
{
	if (SUBTEST("a slot in use")) {
		struct sock_slot s = { .sk = 0xabc };
		struct agg_event a;

		s.rec.n_steps = 2;
		s.rec.steps[1] = (struct agg_step){ .ts_ns = 77,
						    .oldstate = TS_SYN_SENT,
						    .newstate = TS_ESTABLISHED };
		s.rec.head.aux = 5;
		ASSERT_TRUE(slot_record(&s, &a), "taken");
		ASSERT_EQ(a.head.type, EV_AGG, "type");
		ASSERT_EQ(a.head.id, 0xabc, "id: the slot's socket");
		ASSERT_EQ(a.head.ts_ns, 77, "ts: the last step's");
		ASSERT_TRUE(a.head.oldstate == TS_SYN_SENT && a.head.newstate == TS_ESTABLISHED,
			    "states: the last step's");
		ASSERT_EQ(a.head.aux, 0, "no tw sock: still open");
	}
	if (SUBTEST("free or bad slots")) {
		struct sock_slot s = { .sk = 0 };
		struct agg_event a;

		s.rec.n_steps = 1;
		ASSERT_FALSE(slot_record(&s, &a), "free");
		s.sk = 1;
		s.rec.n_steps = 0;
		ASSERT_FALSE(slot_record(&s, &a), "no steps");
		s.rec.n_steps = AGG_STEPS + 1;
		ASSERT_FALSE(slot_record(&s, &a), "too many steps");
	}
	if (SUBTEST("a request waiting for its child")) {
		struct req_wait w = { .cancel_ns = 900, .pending = 1 };
		struct event ev[2];

		w.ev.id = 0x55;
		w.ev.ts_ns = 100;
		ASSERT_EQ(req_wait_events(&w, ev), 2, "two events");
		ASSERT_TRUE(ev[0].type == EV_REQ_START && ev[0].ts_ns == 100, "start at SYN");
		ASSERT_TRUE(ev[1].type == EV_REQ_CANCEL && ev[1].ts_ns == 900, "cancel");
		ASSERT_TRUE(ev[0].id == 0x55 && ev[1].id == 0x55, "the request");
		w.sent = 1;
		ASSERT_EQ(req_wait_events(&w, ev), 0, "sent already");
		w.sent = 0;
		w.pending = 0;
		ASSERT_EQ(req_wait_events(&w, ev), 0, "none pending");
	}
}

int main(int argc, char **argv)
{
	unit_init(argc, argv);
	RUN_TEST(test_ring);
	RUN_TEST(test_exit);
	return unit_summary();
}
