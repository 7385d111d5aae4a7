// SPDX-License-Identifier: GPL-2.0
/*
 * test_resets.c - resets joined to their endpoints (ct_resets.c): a reset
 * received before the socket is known (aggregating), one sent right after
 * the socket's close (close() with unread data), one of no socket of ours;
 * reason names and the counts by direction and reason (rstreason.c,
 * resetstats.c).
 */
#include <string.h>
#include <sys/socket.h>

#include "conntable.h"
#include "ct_internal.h" /* RST_LATE_NS */
#include "resetstats.h"
#include "unit.h"

#define MSEC 1000000ULL
#define T0 (1000ULL * 1000 * MSEC)

static struct conn got[8];
static int n_got, n_resets, n_final;

static void on_record(void *ctx, const struct conn *c, enum rec_kind kind)
{
	if (kind == REC_FINAL)
		n_final++;
	if (kind == REC_FINAL && n_got < 8)
		got[n_got++] = *c;
}

static void on_reset(void *ctx, const struct event *e)
{
	n_resets++;
}

static struct conntable *table(void)
{
	struct ct_config cfg = { .max_conns = 64, .on_record = on_record, .on_reset = on_reset };

	n_got = n_resets = n_final = 0;
	return ct_new(&cfg);
}

static struct event st(uint64_t ts, uint64_t sk, int old, int new, int err)
{
	struct event e = { .ts_ns = ts,
			   .type = EV_STATE,
			   .id = sk,
			   .family = AF_INET,
			   .oldstate = old,
			   .newstate = new,
			   .err = err,
			   .sport = 40000,
			   .dport = 80 };

	return e;
}

static struct event rst(uint64_t ts, uint64_t sk, int state, int dir, uint32_t reason)
{
	struct event e = { .ts_ns = ts,
			   .type = EV_RST,
			   .id = sk,
			   .family = AF_INET,
			   .oldstate = state,
			   .newstate = dir,
			   .retrans = reason,
			   .sport = 40000,
			   .dport = 80 };

	return e;
}

static void feed(struct conntable *t, struct event e)
{
	ct_event(t, &e);
}

static void test_join(void)
{
	struct conntable *t;

	if (SUBTEST("received before the socket is known (aggregated record after it)")) {
		t = table();
		feed(t, rst(T0 + 5 * MSEC, 0x100, TS_ESTABLISHED, RST_RECEIVED, RST_REASON_NONE));
		feed(t, st(T0, 0x100, TS_CLOSE, TS_SYN_SENT, 0));
		feed(t, st(T0 + MSEC, 0x100, TS_SYN_SENT, TS_ESTABLISHED, 0));
		feed(t, st(T0 + 5 * MSEC, 0x100, TS_ESTABLISHED, TS_CLOSE, 104));
		ASSERT_EQ(n_got, 1, "written at once: a close with an error is held for nothing");
		ASSERT_EQ(got[0].rst, RST_RECEIVED, "rst");
		ASSERT_EQ(got[0].closer, CLOSER_RESET, "closer");
		ASSERT_EQ(n_resets, 1, "counted");
		ct_free(t);
	}
	if (SUBTEST("sent right after the close: held a grace period for it")) {
		struct ct_stats s;

		t = table();
		feed(t, st(T0, 0x200, TS_CLOSE, TS_SYN_SENT, 0));
		feed(t, st(T0 + MSEC, 0x200, TS_SYN_SENT, TS_ESTABLISHED, 0));
		feed(t, st(T0 + 9 * MSEC, 0x200, TS_ESTABLISHED, TS_CLOSE, 0));
		ASSERT_EQ(n_got, 0, "held");
		feed(t, rst(T0 + 9 * MSEC + 20000, 0x200, TS_CLOSE, RST_SENT, 11));
		ct_tick(t, T0 + 50 * MSEC);
		ASSERT_EQ(n_got, 0, "held for the grace period");
		ct_tick(t, T0 + 200 * MSEC);
		ASSERT_EQ(n_got, 1, "written after it");
		ASSERT_EQ(got[0].rst, RST_SENT, "rst");
		ASSERT_EQ(got[0].rst_reason, 11, "reason");
		/* one more after the close, nothing held for it: not joined, counted */
		feed(t, rst(T0 + 300 * MSEC, 0x200, TS_CLOSE, RST_SENT, 11));
		ct_get_stats(t, &s);
		ASSERT_EQ(s.rst_unjoined, 1, "unjoined");
		ct_free(t);
	}
	if (SUBTEST("held until the events of the next RST_LATE_NS have come in")) {
		t = table();
		feed(t, st(T0, 0x210, TS_CLOSE, TS_SYN_SENT, 0));
		feed(t, st(T0 + MSEC, 0x210, TS_SYN_SENT, TS_ESTABLISHED, 0));
		feed(t, st(T0 + 9 * MSEC, 0x210, TS_ESTABLISHED, TS_CLOSE, 0));
		feed(t, rst(T0 + 9 * MSEC + 20000, 0x210, TS_CLOSE, RST_SENT, 11));
		/* another socket's events: the stream's time moves on */
		feed(t, st(T0 + 9 * MSEC + RST_LATE_NS - 1000, 0x220, TS_CLOSE, TS_SYN_SENT, 0));
		ASSERT_EQ(n_got, 0, "held while its reset may still come");
		feed(t,
		     st(T0 + 9 * MSEC + RST_LATE_NS + 1000, 0x220, TS_SYN_SENT, TS_ESTABLISHED, 0));
		ASSERT_EQ(n_got, 1, "then written, with no tick");
		ASSERT_EQ(got[0].rst, RST_SENT, "the reset joined");
		ct_free(t);
	}
	if (SUBTEST("a probe made now does not move the stream's time")) {
		struct event probe = { .ts_ns = T0 + 50 * MSEC, .type = EV_TW_PROBE, .id = 0x9990 };

		t = table();
		feed(t, st(T0, 0x230, TS_CLOSE, TS_SYN_SENT, 0));
		feed(t, st(T0 + MSEC, 0x230, TS_SYN_SENT, TS_ESTABLISHED, 0));
		feed(t, st(T0 + 9 * MSEC, 0x230, TS_ESTABLISHED, TS_CLOSE, 0));
		feed(t, probe);
		ASSERT_EQ(n_got, 0, "still held: its reset may be on its way");
		feed(t, rst(T0 + 9 * MSEC + 20000, 0x230, TS_CLOSE, RST_SENT, 11));
		feed(t, st(T0 + 20 * MSEC, 0x240, TS_CLOSE, TS_SYN_SENT, 0));
		ASSERT_EQ(n_got, 1, "written once the kernel's events are past it");
		ASSERT_EQ(got[0].rst, RST_SENT, "the reset joined");
		ct_free(t);
	}
	if (SUBTEST("a graceful close (LAST_ACK) is not held")) {
		t = table();
		feed(t, st(T0, 0x300, TS_LISTEN, TS_SYN_RECV, 0));
		feed(t, st(T0 + MSEC, 0x300, TS_SYN_RECV, TS_ESTABLISHED, 0));
		feed(t, st(T0 + 2 * MSEC, 0x300, TS_ESTABLISHED, TS_CLOSE_WAIT, 0));
		feed(t, st(T0 + 3 * MSEC, 0x300, TS_CLOSE_WAIT, TS_LAST_ACK, 0));
		feed(t, st(T0 + 4 * MSEC, 0x300, TS_LAST_ACK, TS_CLOSE, 0));
		ASSERT_EQ(n_got, 1, "written at once");
		ASSERT_EQ(got[0].rst, 0, "no rst");
		ct_free(t);
	}
	if (SUBTEST("no socket of ours: counted, joined to nothing; exit writes what is held")) {
		struct ct_stats s;

		t = table();
		feed(t, rst(T0, 0, 0, RST_SENT, 1));
		feed(t, rst(T0, 0x900, TS_TIME_WAIT, RST_SENT, 9));
		feed(t, st(T0, 0x400, TS_CLOSE, TS_SYN_SENT, 0));
		feed(t, st(T0 + MSEC, 0x400, TS_SYN_SENT, TS_ESTABLISHED, 0));
		feed(t, st(T0 + 2 * MSEC, 0x400, TS_ESTABLISHED, TS_CLOSE, 0));
		ct_flush(t, T0 + 3 * MSEC);
		ASSERT_EQ(n_resets, 2, "both counted");
		ASSERT_EQ(n_got, 1, "the held close written at exit");
		ASSERT_EQ(got[0].rst, 0, "no rst");
		ct_get_stats(t, &s);
		ASSERT_EQ(s.rst_unjoined, 0, "none of ours unjoined");
		ct_free(t);
	}
}

static void test_counts(void)
{
	struct rst_counts rc;
	char buf[RST_REASON_STRLEN];
	struct event e;

	memset(&rc, 0, sizeof(rc));
	rst_reason_clear();
	rst_reason_set(1, "NO_SOCKET");
	rst_reason_set(11, "TCP_ABORT_ON_CLOSE");
	ASSERT_STREQ(rst_reason_name(11, buf, sizeof(buf)), "TCP_ABORT_ON_CLOSE", "named");
	ASSERT_STREQ(rst_reason_name(12, buf, sizeof(buf)), "REASON_12", "unnamed");
	ASSERT_STREQ(rst_reason_name(RST_REASON_NONE, buf, sizeof(buf)), "", "none");
	e = rst(T0, 0, 0, RST_SENT, 1);
	rst_counts_add(&rc, &e);
	e = rst(T0, 0x1, TS_ESTABLISHED, RST_RECEIVED, RST_REASON_NONE);
	rst_counts_add(&rc, &e);
	ASSERT_EQ(rc.n[RST_SENT][1], 1, "sent NO_SOCKET");
	ASSERT_EQ(rc.n[RST_RECEIVED][RST_REASON_NAMES], 1, "received, no reason");
	ASSERT_EQ(rc.sock[RSOCK_NONE][RST_SENT], 1, "no socket");
	ASSERT_EQ(rc.sock[RSOCK_ENDPOINT][RST_RECEIVED], 1, "endpoint");
	ASSERT_EQ(rc.total, 2, "total");
}

/* One endpoint's active open and close, sent nothing after: held. */
static void open_close(struct conntable *t, uint64_t ts, uint64_t sk)
{
	feed(t, st(ts, sk, TS_CLOSE, TS_SYN_SENT, 0));
	feed(t, st(ts, sk, TS_SYN_SENT, TS_ESTABLISHED, 0));
	feed(t, st(ts, sk, TS_ESTABLISHED, TS_CLOSE, 0));
}

/* Many closes held in turn: each written once, as the stream moves past it. */
static void test_held_many(void)
{
	struct ct_config cfg = { .max_conns = 4096, .on_record = on_record };
	const int n = 20000;
	struct conntable *t;
	struct ct_stats s;

	n_got = n_final = 0;
	t = ct_new(&cfg);
	if (!ASSERT_OK_PTR(t, "ct_new"))
		return;
	for (int i = 0; i < n; i++) {
		uint64_t ts = T0 + (uint64_t)i * MSEC / 10;

		open_close(t, ts, 0x10000 + 64 * (uint64_t)i);
		if (i % 500 == 0)
			ct_tick(t, ts);
	}
	/* 0.1 ms apart, written once the stream is RST_LATE_NS past them */
	ASSERT_EQ(n_final, n - (int)(RST_LATE_NS / (MSEC / 10)) - 1,
		  "written as they came due, the last 2 ms held");
	ct_tick(t, T0 + (uint64_t)n * MSEC);
	ASSERT_EQ(n_final, n, "all written");
	ct_get_stats(t, &s);
	ASSERT_EQ(s.records, n, "records");
	ct_free(t);
}

int main(int argc, char **argv)
{
	unit_init(argc, argv);
	RUN_TEST(test_join);
	RUN_TEST(test_counts);
	RUN_TEST(test_held_many);
	return unit_summary();
}
