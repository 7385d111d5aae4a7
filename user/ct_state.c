// SPDX-License-Identifier: GPL-2.0
/*
 * ct_state.c - a full socket's state changes (bpf/state.bpf.h), followed by
 * its address from its first state change (usually CLOSE -> SYN_SENT in
 * connect(), or LISTEN -> SYN_RECV when the final ACK of a passive
 * handshake creates it) to its CLOSE, where a tw sock may carry the
 * endpoint on. What each change means for the handshake, the phases, the
 * owner and the tw sock is in their own files; this one spots what was
 * missed (a lost close, a duplicate from the rescue program) and keeps
 * the order.
 */
#include "ct_internal.h"

/* A "-> CLOSE" just handled for the same socket and transition: a duplicate. */
static bool recently_closed(struct conntable *t, const struct event *e)
{
	for (int i = 0; i < RECENT_CLOSES; i++)
		if (t->closed[i].sk == e->id && t->closed[i].oldstate == e->oldstate)
			return true;
	return false;
}

/* The full socket is gone; a tw sock may carry on the endpoint. */
static void sock_closed(struct conntable *t, struct conn *c, const struct event *e)
{
	struct tw_info *tw = tw_claim(t, e->aux);
	int old = e->oldstate;

	t->closed[t->closed_next].sk = e->id;
	t->closed[t->closed_next].oldstate = e->oldstate;
	t->closed_next = (t->closed_next + 1) % RECENT_CLOSES;
	sock_del(t, c->sk);
	take_counters(c, e);
	c->t_end = e->ts_ns;
	rst_take_pending(t, c, e->id);
	if (c->role == ROLE_LISTENER) {
		pool_put(&t->conn_pool, c);
		return;
	}
	if (!hs_failed(c, e) && (old == TS_ESTABLISHED || (old == TS_CLOSE_WAIT && e->err)))
		c->closer = CLOSER_RESET;
	if (tw_take_over(t, c, e, tw))
		return;
	phase_add(c, phase_of_state(old), dur(c->t_state, e->ts_ns));
	if ((old == TS_FIN_WAIT2 || old == TS_CLOSING) && !e->err)
		t->st.tw_overflow++; /* should have entered TIME_WAIT */
	c->tw_end = TWE_NONE;
	if (rst_hold(t, c, old, e->err))
		return;
	emit(t, c, REC_FINAL);
	conn_release(t, c);
}

/* The first transition of a new full socket. */
static bool starts_socket(int old, int new)
{
	return (old == TS_CLOSE && new != TS_CLOSE) || (old == TS_LISTEN && new == TS_SYN_RECV);
}

/* A socket whose end we never saw: write what is known, flagged partial. */
static void sock_lost(struct conntable *t, struct conn *c, uint64_t ts)
{
	sock_del(t, c->sk);
	c->partial = true;
	c->t_end = ts;
	c->tw_end = TWE_NONE;
	emit(t, c, REC_FINAL); /* listeners are never emitted */
	conn_release(t, c);
}

/* One state change of a full socket (EV_STATE), in the kernel's order. */
void on_state(struct conntable *t, const struct event *e)
{
	struct conn *c = sock_get(t, e->id);
	int old = e->oldstate, new = e->newstate;
	int64_t elapsed = -1;

	if (!c) {
		if (new == TS_CLOSE && recently_closed(t, e)) {
			t->st.duplicates++; /* the rescue and the primary both ran */
			return;
		}
		c = conn_new(t, e);
		if (!c)
			return;
		c->state = old;
		if (old == TS_CLOSE && new == TS_SYN_SENT)
			c->role = ROLE_ACTIVE;
		else if (old == TS_LISTEN && new == TS_SYN_RECV)
			c->role = ROLE_PASSIVE;
		else if ((old == TS_CLOSE && new == TS_LISTEN) || old == TS_LISTEN)
			c->role = ROLE_LISTENER;
		else
			c->role = ROLE_UNKNOWN;
	} else if (c->state == new && c->t_state == e->ts_ns) {
		t->st.duplicates++;
		return;
	} else if (c->state != old && starts_socket(old, new)) {
		/* its close was lost and the address reused: two endpoints, not one */
		t->st.missed++;
		sock_lost(t, c, e->ts_ns);
		on_state(t, e);
		return;
	} else if (c->state != old) {
		if (c->state == new) { /* the rescue and the primary both ran */
			t->st.duplicates++;
			return;
		}
		t->st.missed++;
		c->partial = true;
		c->t_state = 0; /* entry into 'old' unknown */
	}
	t->st.events++;
	elapsed = dur(c->t_state, e->ts_ns);
	set_tuple(c, e);
	if (e->cgroup)
		c->cgroup = e->cgroup;
	set_owner(c, e);

	if (t->cfg.on_transition)
		t->cfg.on_transition(t->cfg.ctx, e, c, elapsed);
	hs_step(t, c, e);
	close_step(c, old, new);
	if (new == TS_CLOSE) {
		c->state = new;
		sock_closed(t, c, e);
		return;
	}
	if (old != TS_SYN_SENT && old != TS_SYN_RECV)
		phase_add(c, phase_of_state(old), elapsed);
	c->state = new;
	c->t_state = e->ts_ns;
	hand_out(t, c, false);
}
