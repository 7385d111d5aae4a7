// SPDX-License-Identifier: GPL-2.0
/*
 * ct_phases.c - the time an endpoint spends in each state after its
 * handshake: ESTABLISHED, then the half-close states (FIN_WAIT1/2,
 * CLOSE_WAIT, LAST_ACK, CLOSING), who closed first, and the endpoints that
 * sit in CLOSE_WAIT or FIN_WAIT2 too long (--stuck). The handshake is timed
 * in ct_handshake.c, TIME_WAIT and an orphan's FIN_WAIT2 in ct_timewait.c.
 */
#include "ct_internal.h"

/* ns from 'from' to 'to'; -1 when 'from' is unknown (0) or after 'to'. */
int64_t dur(uint64_t from, uint64_t to)
{
	if (!from || to < from)
		return -1;
	return (int64_t)(to - from);
}

/* Add ns to phase ph (ph -1: none, ns -1: not known, both ignored). */
void phase_add(struct conn *c, int ph, int64_t ns)
{
	int64_t sum;

	if (ns < 0 || ph < 0)
		return;
	/* saturate: a corrupt recording must not overflow */
	if (__builtin_add_overflow(c->ph[ph] < 0 ? 0 : c->ph[ph], ns, &sum))
		sum = INT64_MAX;
	c->ph[ph] = sum;
}

/* The phase spent in a state, -1 for those timed elsewhere (handshake, closed). */
int phase_of_state(int state)
{
	switch (state) {
	case TS_ESTABLISHED:
		return PH_ESTABLISHED;
	case TS_FIN_WAIT1:
		return PH_FIN_WAIT1;
	case TS_FIN_WAIT2:
		return PH_FIN_WAIT2;
	case TS_CLOSE_WAIT:
		return PH_CLOSE_WAIT;
	case TS_LAST_ACK:
		return PH_LAST_ACK;
	case TS_CLOSING:
		return PH_CLOSING;
	default:
		return -1;
	}
}

/* A state change old -> new after the handshake: who closed first, and that closing began. */
void close_step(struct conn *c, int old, int new)
{
	if (old == TS_ESTABLISHED && new == TS_FIN_WAIT1)
		c->closer = CLOSER_LOCAL;
	else if (old == TS_ESTABLISHED && new == TS_CLOSE_WAIT)
		c->closer = CLOSER_REMOTE;
	else if (old == TS_FIN_WAIT1 && new == TS_CLOSING)
		c->closer = CLOSER_SIMULTANEOUS;
	if (new == TS_FIN_WAIT1 || new == TS_CLOSE_WAIT || new == TS_FIN_WAIT2 ||
	    new == TS_LAST_ACK || new == TS_CLOSING)
		c->closing_seen = true;
}

struct stuck_ctx {
	uint64_t now, min_ns;
	stuck_fn fn;
	void *ctx;
};

static void check_stuck(uint64_t key, void *val, void *arg)
{
	struct stuck_ctx *s = arg;
	struct conn *c = val;
	uint64_t since = 0;
	int state = c->state;

	if (c->sk && (c->state == TS_CLOSE_WAIT || c->state == TS_FIN_WAIT2)) {
		since = c->t_state;
	} else if (!c->sk && c->tw && c->tw_substate == TS_FIN_WAIT2) {
		since = c->t_fw2;
		state = TS_FIN_WAIT2;
	}
	if (since && s->now >= since + s->min_ns)
		s->fn(s->ctx, c, state, s->now - since);
}

void ct_each_stuck(struct conntable *t, uint64_t now, uint64_t min_ns, stuck_fn fn, void *ctx)
{
	struct stuck_ctx s = { .now = now, .min_ns = min_ns, .fn = fn, .ctx = ctx };

	u64map_each(t->socks, check_stuck, &s);
	u64map_each(t->tws, check_stuck, &s);
}
