// SPDX-License-Identifier: GPL-2.0
/*
 * ct_handshake.c - handshakes: an active one from connect()'s
 * CLOSE -> SYN_SENT to ESTABLISHED or its failure; a passive one from the
 * SYN's arrival, which only the request sock's timer shows
 * (bpf/reqtimer.bpf.h), to its child's SYN_RECV -> ESTABLISHED, or to the
 * request's end with no child (a record of its own).
 *
 * The passive handshake is joined twice. In the kernel, aggregating, a
 * request's SYN time waits in its slot and rides on its child's record
 * (bpf/slots.bpf.h, joined by tuple on the child's CPU): one record per
 * connection instead of two. Here, the child's record is expanded back into
 * the EV_REQ_START it stands for (agg.c) and joined by netns + 4-tuple again,
 * because the request sock and the child are two kernel objects and that
 * is the only key they share: so there is one join for both ways, and for
 * the requests the kernel still sends as they come (SYN-ACK retransmitted,
 * no slot, a recycled TIME_WAIT, --no-aggregate), and recordings replay
 * the same whichever way their events came.
 */
#include <errno.h>
#include <string.h>

#include "ct_internal.h"

static void req_unlink(struct conntable *t, struct req *r)
{
	u64map_del(t->reqs, r->id);
	if (u64map_get(t->req_tuples, r->tuple) == r)
		u64map_del(t->req_tuples, r->tuple);
	if (r->on_pending)
		r->dead = true;
	else
		pool_put(&t->req_pool, r);
}

/* The fresh request into the maps, so that it is found like the others. */
static void req_file(struct conntable *t)
{
	struct req *r = t->req_fresh;

	if (!r)
		return;
	t->req_fresh = NULL;
	if (u64map_put(t->reqs, r->id, r)) {
		pool_put(&t->req_pool, r);
		t->st.table_full++;
		return;
	}
	u64map_put(t->req_tuples, r->tuple, r);
}

/*
 * The request of the child with this tuple, NULL if none: the fresh one
 * (*fresh set: in no map, nothing to unlink), else one from the maps.
 */
static struct req *req_of_child(struct conntable *t, uint64_t tuple, bool *fresh)
{
	struct req *r = t->req_fresh;

	*fresh = r && r->tuple == tuple;
	if (*fresh) {
		t->req_fresh = NULL;
		return r;
	}
	req_file(t);
	return u64map_get(t->req_tuples, tuple);
}

/* A child socket appeared: take over its request's SYN time and owner. */
static void join_request(struct conntable *t, struct conn *c, const struct event *e)
{
	bool fresh;
	struct req *r = req_of_child(t, event_tuple(e), &fresh);

	c->joined = true;
	if (c->hs_kind == HS_FASTOPEN) {
		/* the child was made at SYN time: nothing to time */
	} else if (r) {
		struct conn *l = sock_get(t, r->listener);

		c->t_start = r->t_syn;
		c->syn_retrans = r->retrans;
		if (r->syncookie)
			c->hs_kind = HS_SYNCOOKIE;
		if (l)
			take_owner(c, l->pid, l->comm, OWNER_LISTENER);
	} else if (e->ts_ns - t->t_first > SYNCOOKIE_AFTER_NS) {
		c->hs_kind = HS_SYNCOOKIE;
	} else {
		c->partial = true; /* SYN arrived before tracing began */
	}
	if (r && fresh)
		pool_put(&t->req_pool, r); /* never filed, so never pending */
	else if (r)
		req_unlink(t, r);
}

static int result_of_err(int err)
{
	switch (err) {
	case 0:
		return RES_ABORTED;
	case ECONNREFUSED:
		return RES_REFUSED;
	case ETIMEDOUT:
		return RES_TIMEOUT;
	case ECONNRESET:
		return RES_RESET;
	case EHOSTUNREACH:
	case ENETUNREACH:
		return RES_UNREACHABLE;
	default:
		return RES_ERRNO;
	}
}

/* A state change of c during its handshake: its joins, its end if it ends well. */
void hs_step(struct conntable *t, struct conn *c, const struct event *e)
{
	int old = e->oldstate, new = e->newstate;

	/* the child's addresses are set after its LISTEN -> SYN_RECV: join now */
	if (old == TS_SYN_RECV && c->role == ROLE_PASSIVE && !c->joined)
		join_request(t, c, e);
	if (old == TS_LISTEN && new == TS_SYN_RECV && (e->flags & EVF_FASTOPEN))
		c->hs_kind = HS_FASTOPEN;
	if (new == TS_ESTABLISHED && (old == TS_SYN_SENT || old == TS_SYN_RECV)) {
		c->result = RES_OK;
		c->syn_retrans = e->retrans;
		c->t_established = e->ts_ns;
		if (c->hs_kind == HS_NORMAL && !(c->partial && old == TS_SYN_RECV))
			c->ph[PH_HANDSHAKE] = dur(c->t_start, e->ts_ns);
	}
}

/* c closed (e: its "-> CLOSE"): false if not during its handshake, else how it failed. */
bool hs_failed(struct conn *c, const struct event *e)
{
	int old = e->oldstate;

	if (old != TS_SYN_SENT && old != TS_SYN_RECV)
		return false;
	c->result = result_of_err(e->err);
	c->err = e->err;
	c->syn_retrans = old == TS_SYN_SENT ? e->retrans : c->syn_retrans;
	c->ph[PH_HANDSHAKE] = dur(c->t_start, e->ts_ns);
	return true;
}

static void req_pending_add(struct conntable *t, struct req *r)
{
	if (r->on_pending)
		return;
	r->on_pending = true;
	r->pending_next = t->req_pending;
	t->req_pending = r;
}

/* A passive handshake that will never complete: a record of its own. */
static void req_failed(struct conntable *t, struct req *r, uint64_t ts)
{
	struct conn c = { 0 };
	struct conn *l = sock_get(t, r->listener);

	for (int i = 0; i < PH_MAX; i++)
		c.ph[i] = -1;
	c.role = ROLE_PASSIVE;
	c.netns = r->netns;
	c.family = r->family;
	memcpy(c.laddr, r->laddr, sizeof(c.laddr));
	memcpy(c.raddr, r->raddr, sizeof(c.raddr));
	c.lport = r->lport;
	c.rport = r->rport;
	c.t_start = r->t_syn;
	c.t_end = ts;
	c.syn_retrans = r->retrans;
	c.result = r->cancelled ? RES_ABORTED : RES_TIMEOUT;
	c.hs_kind = r->syncookie ? HS_SYNCOOKIE : HS_NORMAL;
	c.ph[PH_HANDSHAKE] = dur(r->t_syn, ts);
	c.tw_end = TWE_NONE;
	c.state = TS_CLOSE;
	if (l) {
		take_owner(&c, l->pid, l->comm, OWNER_LISTENER);
		c.cgroup = l->cgroup;
	}
	t->st.reqs_failed++;
	emit(t, &c, REC_FINAL);
}

void on_req(struct conntable *t, const struct event *e)
{
	struct req *r;

	req_file(t);
	r = u64map_get(t->reqs, e->id);

	if (!r) {
		struct conn *tw;
		uint64_t tuple = event_tuple(e);

		if (e->type != EV_REQ_START)
			return; /* its child was already joined, or before our time */
		tw = u64map_get(t->tw_cancelled, tuple);
		if (tw)
			tw_finish(t, tw, tw->t_pending, TWE_RECYCLED);
		r = pool_get(&t->req_pool);
		if (!r || u64map_count(t->reqs) >= t->cfg.max_conns) {
			pool_put(&t->req_pool, r);
			t->st.table_full++;
			return;
		}
		r->id = e->id;
		r->tuple = tuple;
		r->listener = e->aux;
		r->t_syn = e->ts_ns;
		r->netns = e->netns;
		r->family = e->family;
		r->syncookie = e->flags & EVF_SYNCOOKIE;
		memcpy(r->laddr, e->saddr, sizeof(r->laddr));
		memcpy(r->raddr, e->daddr, sizeof(r->raddr));
		r->lport = e->sport;
		r->rport = e->dport;
		t->req_fresh = r; /* filed when something else needs it */
	}
	r->t_last = e->ts_ns;
	if (e->retrans > r->retrans)
		r->retrans = e->retrans;
	switch (e->type) {
	case EV_REQ_START:
		r->t_pending = 0;
		break;
	case EV_REQ_EXPIRE:
	case EV_REQ_CANCEL:
		r->t_pending = e->ts_ns;
		r->cancelled = e->type == EV_REQ_CANCEL;
		req_pending_add(t, r);
		break;
	}
}

struct reap_ctx {
	struct conntable *t;
	uint64_t now;
	uint64_t keys[REQ_REAP_MAX];
	int n;
};

static void collect_stale_req(uint64_t key, void *val, void *arg)
{
	struct reap_ctx *r = arg;
	struct req *q = val;

	if (r->n < REQ_REAP_MAX && !q->on_pending && r->now > q->t_last + REQ_STALE_NS)
		r->keys[r->n++] = key;
}

/*
 * Settle the requests whose expiry or cancel had no re-arm within the
 * grace period (failed handshakes), and now and then forget the ones
 * nobody settled (their end was never seen).
 */
void req_tick(struct conntable *t, uint64_t now)
{
	struct req **pr = &t->req_pending, *r;
	struct reap_ctx rc = { .t = t, .now = now };

	req_file(t);
	while ((r = *pr)) {
		if (!r->dead && r->t_pending && now > r->t_pending + t->cfg.grace_ns) {
			req_failed(t, r, r->t_pending);
			req_unlink(t, r);
		}
		if (!r->dead && r->t_pending) {
			pr = &r->pending_next;
			continue;
		}
		*pr = r->pending_next;
		r->on_pending = false;
		if (r->dead)
			pool_put(&t->req_pool, r);
	}
	if (now > t->t_last_reap + REQ_REAP_EVERY_NS) {
		t->t_last_reap = now;
		rc.n = 0;
		u64map_each(t->reqs, collect_stale_req, &rc);
		for (int i = 0; i < rc.n; i++)
			req_unlink(t, u64map_get(t->reqs, rc.keys[i]));
	}
}
