// SPDX-License-Identifier: GPL-2.0
/*
 * ct_resets.c - resets joined to their endpoint (bpf/resets.bpf.h).
 *
 * A reset comes as an EV_RST of its own, joined to its endpoint by the
 * socket: a live one at once; one whose socket is not known yet
 * (aggregating, the socket's record crosses at its close, after the reset)
 * waits a grace period in rst_pend for its socket's close. A socket can
 * send its reset right after its "-> CLOSE" (close() with unread data,
 * SO_LINGER 0): a socket closed from a state where that can happen, with no
 * reset known, is held in rst_closed until the events of the next
 * RST_LATE_NS have come in (or, if none come, a grace period), then written.
 */
#include "ct_internal.h"
#include "rstreason.h"

/* The first reset of an endpoint ended it; only a sent one has a reason. */
static void rst_set(struct conn *c, uint8_t dir, uint32_t reason)
{
	if (c->rst)
		return; /* the first one ended it */
	c->rst = dir;
	c->rst_reason = dir == RST_SENT ? reason : RST_REASON_NONE;
}

/* The reset that waited for this socket, if any: c's now. */
void rst_take_pending(struct conntable *t, struct conn *c, uint64_t sk)
{
	struct rst_pend *p = u64map_del(t->rst_pend, sk);

	if (!p)
		return;
	p->claimed = true; /* the queue frees it */
	rst_set(c, p->dir, p->reason);
}

/*
 * Hold c, closed with no TIME_WAIT, for a reset it may send next; false:
 * write it now. A close with an error (a reset received, a timeout) sends
 * none: close() and tcp_disconnect() set no error before the reset.
 */
bool rst_hold(struct conntable *t, struct conn *c, int old, int err)
{
	void *old_c;

	if (c->rst || err || c->role == ROLE_LISTENER)
		return false;
	if (old != TS_ESTABLISHED && old != TS_CLOSE_WAIT && old != TS_FIN_WAIT1 &&
	    old != TS_FIN_WAIT2 && old != TS_CLOSING && old != TS_SYN_RECV)
		return false;
	/* the address may be a new socket's already: the latest close counts */
	if (u64map_swap(t->rst_closed, c->sk, c, &old_c))
		return false;
	c->rst_queued = true;
	c->rst_next = NULL;
	if (t->rq_tail)
		t->rq_tail->rst_next = c;
	else
		t->rq_head = c;
	t->rq_tail = c;
	return true;
}

/* Write the held closes that ended before 'before'. */
static void rst_release(struct conntable *t, uint64_t before)
{
	struct conn *c;

	while ((c = t->rq_head) && c->t_end < before) {
		t->rq_head = c->rst_next;
		if (!t->rq_head)
			t->rq_tail = NULL;
		if (u64map_get(t->rst_closed, c->sk) == c)
			u64map_del(t->rst_closed, c->sk);
		c->rst_queued = false;
		emit(t, c, REC_FINAL);
		conn_release(t, c);
	}
}

/* Resets that waited for a socket that never came: counted, freed. */
static void rst_pend_reap(struct conntable *t, uint64_t now)
{
	struct rst_pend *p;

	while ((p = t->rp_head) && (p->claimed || now > p->ts + t->cfg.grace_ns)) {
		if (!p->claimed) {
			u64map_del(t->rst_pend, p->sk);
			t->st.rst_unjoined++;
		}
		t->rp_head = p->next;
		if (!t->rp_head)
			t->rp_tail = NULL;
		pool_put(&t->rp_pool, p);
	}
}

void on_rst(struct conntable *t, const struct event *e)
{
	struct rst_pend *p;
	struct conn *c;

	if (t->cfg.on_reset)
		t->cfg.on_reset(t->cfg.ctx, e);
	if (!e->id || rst_sock_of(e->oldstate) != RSOCK_ENDPOINT)
		return; /* no endpoint of ours: counted by on_reset only */
	if (e->oldstate == TS_CLOSE) { /* sent right after the socket's close */
		c = u64map_get(t->rst_closed, e->id);
		if (c)
			rst_set(c, e->newstate, e->retrans);
		else
			t->st.rst_unjoined++;
		return;
	}
	c = sock_get(t, e->id);
	if (c) {
		rst_set(c, e->newstate, e->retrans);
		return;
	}
	if (u64map_get(t->rst_pend, e->id))
		return; /* the first one counts */
	p = u64map_count(t->rst_pend) < RST_WAIT_MAX ? pool_get(&t->rp_pool) : NULL;
	if (!p || u64map_put(t->rst_pend, e->id, p)) {
		pool_put(&t->rp_pool, p);
		t->st.rst_unjoined++;
		return;
	}
	p->sk = e->id;
	p->ts = e->ts_ns;
	p->reason = e->retrans;
	p->dir = e->newstate;
	p->claimed = false;
	p->next = NULL;
	if (t->rp_tail)
		t->rp_tail->next = p;
	else
		t->rp_head = p;
	t->rp_tail = p;
}

/*
 * The closes whose reset would have come in by now (RST_LATE_NS in the
 * event stream): written after each event, so while still in cache.
 */
void rst_settle(struct conntable *t)
{
	if (t->t_seen > RST_LATE_NS)
		rst_release(t, t->t_seen - RST_LATE_NS);
}

/* Settle what waited its grace period: held closes written, lone resets counted. */
void rst_tick(struct conntable *t, uint64_t now)
{
	if (now > t->cfg.grace_ns)
		rst_release(t, now - t->cfg.grace_ns);
	rst_pend_reap(t, now);
}
