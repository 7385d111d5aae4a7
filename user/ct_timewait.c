// SPDX-License-Identifier: GPL-2.0
/*
 * ct_timewait.c - the tw sock that carries an endpoint on after its full
 * socket's "-> CLOSE" (bpf/twtimer.bpf.h): an orphan's FIN_WAIT2, then
 * TIME_WAIT, until its timer expires or the tw sock is killed, reused or
 * recycled. BPF names the tw sock in the socket's "-> CLOSE" (aux); its
 * timer events come by the tw sock.
 *
 * A timer cancel is ambiguous (the tw timer is also cancelled and re-armed
 * when an orphan FIN_WAIT2 turns into TIME_WAIT), so a cancel waits a grace
 * period for its re-arm before it is taken as the end of the tw sock.
 */
#include "ct_internal.h"

static void pending_remove(struct conntable *t, struct conn *c)
{
	if (!c->t_pending)
		return;
	if (u64map_get(t->tw_cancelled, conn_tuple(c)) == c)
		u64map_del(t->tw_cancelled, conn_tuple(c));
	c->t_pending = 0; /* the tick drops it from the list */
}

static void tw_flip(struct conn *c, uint8_t substate, uint64_t at);

/* Time the tw sock's phase up to ts: the orphan's FIN_WAIT2, or TIME_WAIT. */
void tw_phase_end(struct conn *c, uint64_t ts)
{
	if (c->tw_substate == TS_FIN_WAIT2)
		phase_add(c, PH_FIN_WAIT2, dur(c->t_fw2, ts));
	else
		phase_add(c, PH_TIME_WAIT, dur(c->t_tw, ts));
}

/* The endpoint's tw sock is gone (at ts, as end says): write its record, let it go. */
static void tw_write(struct conntable *t, struct conn *c, uint64_t ts, int end)
{
	c->tw_end = end;
	c->t_end = ts;
	/* a tw sock reused at once may already stand for another endpoint */
	if (u64map_get(t->tws, c->tw) == c)
		u64map_del(t->tws, c->tw);
	emit(t, c, REC_FINAL);
	conn_release(t, c);
}

/* The tw sock ended at ts: TIME_WAIT (or the orphan FIN_WAIT2) is over. */
void tw_finish(struct conntable *t, struct conn *c, uint64_t ts, int end)
{
	if (end != TWE_EXPIRED && c->pend_expires) /* ended by a cancel */
		tw_flip(c, c->pend_substate, c->pend_expires - TCP_TIMEWAIT_LEN_NS);
	pending_remove(t, c);
	tw_phase_end(c, ts);
	/* never reached TIME_WAIT: tcp_fin_timeout, or killed in FIN_WAIT2 */
	if (c->tw_substate == TS_FIN_WAIT2 && end == TWE_EXPIRED)
		end = TWE_NONE;
	tw_write(t, c, ts, end);
}

/*
 * A new TIME_WAIT took over the tw sock of an endpoint whose TIME_WAIT end
 * was not seen: that tw sock was freed before ts. Its record is written,
 * as the grace period would have settled it if a cancel was seen, else
 * with its end unknown (partial, tw_end empty, TIME_WAIT not timed).
 */
static void tw_superseded(struct conntable *t, struct conn *c, uint64_t ts)
{
	if (c->t_pending) {
		tw_finish(t, c, c->t_pending, TWE_KILLED);
		return;
	}
	t->st.missed++;
	c->partial = true;
	tw_write(t, c, ts, TWE_NONE_YET);
}

/*
 * The substate went FIN_WAIT2 -> TIME_WAIT at 'at': the orphan's FIN_WAIT2
 * ends. A flip told by the timer's expiry is known to a jiffy (4 ms at
 * HZ=250): one within a jiffy of FIN_WAIT2's start may land before it, and
 * is taken as at its start (a FIN_WAIT2 of 0, not an unknown one).
 */
static void tw_flip(struct conn *c, uint8_t substate, uint64_t at)
{
	if (c->tw_substate != TS_FIN_WAIT2 || substate != TS_TIME_WAIT)
		return;
	if (c->t_fw2 && at < c->t_fw2)
		at = c->t_fw2;
	phase_add(c, PH_FIN_WAIT2, dur(c->t_fw2, at));
	c->t_tw = at;
	c->tw_substate = TS_TIME_WAIT;
}

static void conn_pending_add(struct conntable *t, struct conn *c)
{
	if (c->on_pending)
		return;
	c->on_pending = true;
	c->pending_next = t->pending;
	t->pending = c;
}

/* The tw sock named by a closing socket's "-> CLOSE", if it was armed: claimed. */
struct tw_info *tw_claim(struct conntable *t, uint64_t tw)
{
	struct tw_info *i = tw ? u64map_del(t->tw_new, tw) : NULL;

	if (i)
		i->claimed = true; /* the queue frees it */
	return i;
}

/*
 * The tw sock takes c over from its closed socket: the record so far is
 * written (REC_CLOSED), the endpoint goes on in TIME_WAIT (or the orphan's
 * FIN_WAIT2). With no room to follow the tw sock, c is written now,
 * partial, its TIME_WAIT untimed and its end unknown, and counted as a
 * full table. false: no tw sock, c is the caller's still.
 */
bool tw_take_over(struct conntable *t, struct conn *c, const struct event *e,
		  const struct tw_info *tw)
{
	int old = e->oldstate;
	bool orphan_fw2;
	void *prev;

	if (!tw)
		return false;
	/* an orphan's FIN_WAIT2 goes on in the tw sock; any other phase ends here */
	orphan_fw2 = tw->substate == TS_FIN_WAIT2 && old == TS_FIN_WAIT2;
	if (!orphan_fw2)
		phase_add(c, phase_of_state(old), dur(c->t_state, e->ts_ns));
	/* c takes the key first: writing the record it replaced leaves the key be */
	if (u64map_swap(t->tws, e->aux, c, &prev)) {
		t->st.table_full++;
		c->partial = true;
		c->tw_end = TWE_NONE_YET;
		emit(t, c, REC_FINAL);
		conn_release(t, c);
		return true;
	}
	if (prev && prev != c)
		tw_superseded(t, prev, tw->t_start);
	c->tw = e->aux;
	c->t_tw_start = tw->t_start;
	c->tw_substate = tw->substate;
	if (orphan_fw2)
		c->t_fw2 = c->t_state;
	else
		c->t_tw = tw->t_start;
	c->sk = 0;
	c->closing_seen = true;
	emit(t, c, REC_CLOSED);
	return true;
}

void on_tw(struct conntable *t, const struct event *e)
{
	/* a first arming has no endpoint yet: spare the large map a cold probe */
	struct conn *c = e->flags & EVF_FIRST_ARM ? NULL : u64map_get(t->tws, e->id);

	if (!c) {
		struct tw_info *tw;

		if (e->type == EV_TW_PROBE)
			return;
		if (e->type != EV_TW_START) {
			tw = u64map_del(t->tw_new, e->id);
			if (tw) {
				t->st.orphan_tw++;
				tw->claimed = true; /* the queue frees it */
			}
			return;
		}
		tw = u64map_get(t->tw_new, e->id);
		if (!tw) {
			tw = pool_get(&t->tw_pool);
			if (!tw || u64map_put(t->tw_new, e->id, tw)) {
				pool_put(&t->tw_pool, tw);
				t->st.table_full++;
				return;
			}
			tw->t_start = e->ts_ns;
			tw->tw = e->id;
			if (t->tw_tail)
				t->tw_tail->next = tw;
			else
				t->tw_head = tw;
			t->tw_tail = tw;
		}
		tw->substate = e->newstate;
		return;
	}
	switch (e->type) {
	case EV_TW_START: /* re-armed: a cancel just before it was no end */
		pending_remove(t, c);
		c->pend_expires = 0;
		tw_flip(c, e->newstate, e->ts_ns);
		hand_out(t, c, false);
		break;
	case EV_TW_EXPIRE:
		tw_flip(c, e->newstate, e->aux - TCP_TIMEWAIT_LEN_NS);
		tw_finish(t, c, e->ts_ns, TWE_EXPIRED);
		break;
	case EV_TW_PROBE:
		/* the FIN may have come with a re-arm that fired no timer event */
		tw_flip(c, e->newstate, e->aux - TCP_TIMEWAIT_LEN_NS);
		hand_out(t, c, false);
		break;
	case EV_TW_CANCEL:
		/*
		 * A re-arm fires cancel (old expiry) then start; only a cancel
		 * that is an end tells, by its expiry, of a silent earlier re-arm.
		 */
		c->pend_substate = e->newstate;
		c->pend_expires = e->aux;
		if (e->flags & EVF_CONNECTING) {
			tw_finish(t, c, e->ts_ns, TWE_REUSED);
			break;
		}
		c->t_pending = e->ts_ns;
		u64map_put(t->tw_cancelled, conn_tuple(c), c);
		conn_pending_add(t, c);
		break;
	}
}

/*
 * Settle the cancels whose grace period is over (the tw sock was killed),
 * and let go of the tw socks nobody claimed (filtered out, or closed
 * before tracing).
 */
void tw_tick(struct conntable *t, uint64_t now)
{
	struct conn **pc = &t->pending, *c;

	while ((c = *pc)) {
		if (c->t_pending && now > c->t_pending + t->cfg.grace_ns)
			tw_finish(t, c, c->t_pending, TWE_KILLED);
		if (c->t_pending) {
			pc = &c->pending_next;
			continue;
		}
		*pc = c->pending_next;
		c->on_pending = false;
		if (!c->sk && !c->tw)
			pool_put(&t->conn_pool, c);
	}
	while (t->tw_head && (t->tw_head->claimed || now > t->tw_head->t_start + t->cfg.grace_ns)) {
		struct tw_info *tw = t->tw_head;

		if (!tw->claimed) {
			u64map_del(t->tw_new, tw->tw);
			t->st.orphan_tw++;
		}
		t->tw_head = tw->next;
		if (!t->tw_head)
			t->tw_tail = NULL;
		pool_put(&t->tw_pool, tw);
	}
}

struct orphan_ctx {
	void (*fn)(void *ctx, uint64_t tw);
	void *ctx;
};

static void check_orphan(uint64_t key, void *val, void *arg)
{
	struct orphan_ctx *o = arg;
	struct conn *c = val;

	if (c->tw_substate == TS_FIN_WAIT2)
		o->fn(o->ctx, c->tw);
}

void ct_each_orphan(struct conntable *t, void (*fn)(void *ctx, uint64_t tw), void *ctx)
{
	struct orphan_ctx o = { .fn = fn, .ctx = ctx };

	u64map_each(t->tws, check_orphan, &o);
}
