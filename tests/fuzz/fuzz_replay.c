// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_replay.c - libFuzzer target for the recording reader and, behind
 * it, the connection table: what a replay of an untrusted file exercises.
 *
 * Each input is read as a recording with replay_open_mem() and every event
 * it yields goes into a small connection table (ct_event, ct_tick with
 * rising times, ct_flush), whose records go through the text formatters.
 * Random bytes rarely get past the CRC-32s, so the input is then replayed a
 * second time with its checksums rewritten (rec_fix_checksums): the first
 * pass fuzzes the checks, the second what lies behind them.
 *
 * A crash, a sanitizer report, or an error message that is empty or not one
 * line is a finding. Built and run by tests/fuzz/build.sh.
 *
 * A third pass reads the input as EV_AGG records, as the ring buffer hands
 * them over, and feeds their expansion (agg_expand) to a table.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "conntable.h"
#include "format.h"
#include "record.h"

#define MS(x) (1000000ULL * (uint64_t)(x))
#define SEC(x) (1000000000ULL * (uint64_t)(x))

/* The recording's wall-clock offset, for the time formatters. */
static int64_t wall_offset_ns;

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Every error the reader returns must be a non-empty single line. */
static void check_message(const char *err)
{
	if (!err[0] || strchr(err, '\n'))
		__builtin_trap();
}

static void show_conn(const struct conn *c)
{
	char buf[ADDRPORT_STRLEN], res[64], e[32], ms[32], tm[TIME_STRLEN];

	format_addr_port(buf, sizeof(buf), c->family, c->laddr, c->lport);
	format_addr_port(buf, sizeof(buf), c->family, c->raddr, c->rport);
	result_name(c, res, sizeof(res));
	errno_name(e, sizeof(e), c->err);
	role_name(c->role);
	closer_name(c->closer);
	tw_end_name(c->tw_end);
	state_name(c->state);
	format_rfc3339(tm, sizeof(tm), c->t_start + (uint64_t)wall_offset_ns);
	format_clock(tm, sizeof(tm), c->t_end + (uint64_t)wall_offset_ns);
	for (int i = 0; i < PH_MAX; i++)
		format_ms(ms, sizeof(ms), c->ph[i] < 0 ? -1 : c->ph[i] / 1000);
}

static void on_record(void *ctx, const struct conn *c, enum rec_kind kind)
{
	show_conn(c);
}

static void on_transition(void *ctx, const struct event *e, const struct conn *c,
			  int64_t elapsed_ns)
{
	char buf[ADDRPORT_STRLEN];

	format_addr_port(buf, sizeof(buf), e->family, e->saddr, e->sport);
	state_name(e->oldstate);
	state_name(e->newstate);
	if (c)
		show_conn(c);
}

static void replay(const uint8_t *data, size_t size)
{
	struct ct_config cfg = {
		.max_conns = 8,
		.grace_ns = MS(100),
		.on_record = on_record,
		.on_transition = on_transition,
	};
	struct rec_header h;
	struct conntable *t;
	struct replay *r;
	struct event e;
	char err[256];
	uint64_t now;
	int rc, n = 0;

	r = replay_open_mem(data, size, &h, err, sizeof(err));
	if (!r) {
		check_message(err);
		return;
	}
	wall_offset_ns = h.wall_offset_ns;
	t = ct_new(&cfg);
	if (!t)
		abort();
	/* as live: ticks at rising times, never before the events seen */
	now = h.start_ns;
	while ((rc = replay_next(r, &e, err, sizeof(err))) == 1) {
		ct_event(t, &e);
		if (e.ts_ns > now)
			now = e.ts_ns;
		if (++n % 4 == 0) {
			now = add_sat(now, MS(50));
			ct_tick(t, now);
		}
	}
	if (rc < 0)
		check_message(err);
	ct_tick(t, add_sat(now, SEC(1)));
	ct_flush(t, add_sat(now, SEC(120)));
	ct_free(t);
	replay_close(r);
}

static void expand_all(const uint8_t *data, size_t size)
{
	struct ct_config cfg = { .max_conns = 8, .grace_ns = MS(100), .on_record = on_record };
	struct conntable *t = ct_new(&cfg);
	struct event ev[AGG_MAX_EVENTS];
	struct agg_event a;

	if (!t)
		abort();
	for (size_t off = 0; off + sizeof(a) <= size; off += sizeof(a)) {
		int n;

		memcpy(&a, data + off, sizeof(a));
		n = agg_expand(&a, ev);
		if (n < 0 || n > AGG_MAX_EVENTS)
			__builtin_trap();
		for (int i = 0; i < n; i++)
			ct_event(t, &ev[i]);
		ct_tick(t, a.head.ts_ns);
	}
	ct_flush(t, UINT64_MAX / 2);
	ct_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	replay(data, size);
	expand_all(data, size);
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (rec_fix_checksums(copy, size) && memcmp(copy, data, size))
		replay(copy, size);
	free(copy);
	return 0;
}
