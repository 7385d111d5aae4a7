// SPDX-License-Identifier: GPL-2.0
/*
 * conntable.c - joins tcpphase's raw kernel events into one lifecycle per
 * TCP endpoint.
 *
 * A full socket is followed by its address from its first state change
 * (usually CLOSE -> SYN_SENT in connect(), or LISTEN -> SYN_RECV when the
 * final ACK of a passive handshake creates it) to its CLOSE. Two kernel
 * objects that no state tracepoint shows are joined to it:
 *  - the request sock of a passive open, armed at SYN arrival, joined to its
 *    child by netns + 4-tuple;
 *  - the TIME_WAIT sock that replaces a closing socket, named by BPF in the
 *    socket's "-> CLOSE" event (aux).
 * A timer cancel is ambiguous (the tw timer is also cancelled and re-armed
 * when an orphan FIN_WAIT2 turns into TIME_WAIT), so a cancel waits a grace
 * period for its re-arm before it is taken as the end of the tw sock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conntable.h"
#include "format.h"
#include "pool.h"
#include "rstreason.h"
#include "u64map.h"

#define TCP_TIMEWAIT_LEN_NS (60ULL * 1000000000ULL)
#define RECENT_CLOSES 64
#define REQ_STALE_NS (300ULL * 1000000000ULL)
/*
 * A child with no request seen this long after tracing began is a syncookie
 * one; sooner, its SYN may simply predate us (then the record is partial).
 */
#define SYNCOOKIE_AFTER_NS (1ULL * 1000000000ULL)

/* A passive handshake in progress: the request sock, until its child appears. */
struct req {
	uint64_t id;
	uint64_t tuple;
	uint64_t listener;
	uint64_t t_syn;
	uint64_t t_last;
	uint64_t t_pending; /* expire or cancel awaiting a re-arm */
	uint32_t retrans;
	uint32_t netns;
	uint8_t family;
	bool cancelled; /* the pending event was a cancel */
	bool syncookie;
	bool dead; /* freed once off the pending list */
	bool on_pending;
	uint8_t laddr[16], raddr[16];
	uint16_t lport, rport;
	struct req *pending_next;
};

/*
 * A reset of a full socket that user space does not know yet: aggregating,
 * its record comes at its close, after the reset in time. Joined then.
 */
struct rst_pend {
	uint64_t sk;
	uint64_t ts;
	uint32_t reason;
	uint8_t dir;
	bool claimed; /* freed when it reaches the head of the queue */
	struct rst_pend *next;
};

/* At most this many resets wait for their socket, and closed sockets for a reset. */
#define RST_WAIT_MAX 65536

/*
 * A tw sock armed but not yet claimed by its socket's "-> CLOSE" (which
 * normally follows at once). Kept in arrival order so that the unclaimed
 * ones are reaped without scanning the map.
 */
struct tw_info {
	uint64_t tw;
	uint64_t t_start;
	uint8_t substate;
	bool claimed; /* freed when it reaches the head of the queue */
	struct tw_info *next;
};

struct conntable {
	struct ct_config cfg;
	struct u64map *socks; /* sk -> conn: through sock_get/sock_del */
	struct conn *sock_last; /* the socket looked up last (its events come in a run) */
	struct u64map *tws; /* tw -> conn, while in TIME_WAIT */
	struct u64map *tw_new; /* tw -> tw_info, armed, not yet claimed */
	struct u64map *tw_cancelled; /* tuple -> conn whose tw cancel is pending */
	struct u64map *reqs; /* req -> req */
	struct u64map *req_tuples; /* tuple -> req */
	struct conn *pending; /* conns with t_pending */
	struct tw_info *tw_head, *tw_tail; /* tw_new entries, oldest first */
	/*
	 * Every object comes from these: an endpoint's record lives on through
	 * its 60 s TIME_WAIT, and malloc'ing ~100k of them a second showed as a
	 * fifth of tcpphase's CPU (pool.h).
	 */
	struct pool conn_pool, req_pool, tw_pool;
	struct req *req_pending;
	struct {
		uint64_t sk;
		uint8_t oldstate;
	} closed[RECENT_CLOSES]; /* the last sockets closed, to spot duplicates */
	int closed_next;
	uint64_t t_first; /* first event: tracing start */
	uint64_t t_last_reap;
	struct ct_stats st;
	/* resets (see on_rst) */
	struct u64map *rst_pend; /* sk -> rst_pend: its socket not known yet */
	struct u64map *rst_closed; /* sk -> conn closed, held for a reset sent after */
	struct rst_pend *rp_head, *rp_tail; /* rst_pend entries, oldest first */
	struct conn *rq_head, *rq_tail; /* rst_closed conns, oldest first */
	struct pool rp_pool;
};

static uint64_t tuple_hash(uint32_t netns, uint8_t family, const uint8_t *laddr, uint16_t lport,
			   const uint8_t *raddr, uint16_t rport)
{
	uint64_t h = 1469598103934665603ULL;
	int alen = family == 10 ? 16 : 4;

#define MIX(b) (h = (h ^ (uint8_t)(b)) * 1099511628211ULL)
	for (int i = 0; i < 4; i++)
		MIX(netns >> (8 * i));
	MIX(family);
	for (int i = 0; i < alen; i++)
		MIX(laddr[i]);
	MIX(lport);
	MIX(lport >> 8);
	for (int i = 0; i < alen; i++)
		MIX(raddr[i]);
	MIX(rport);
	MIX(rport >> 8);
#undef MIX
	return h ? h : 1;
}

static uint64_t conn_tuple(const struct conn *c)
{
	return tuple_hash(c->netns, c->family, c->laddr, c->lport, c->raddr, c->rport);
}

static uint64_t event_tuple(const struct event *e)
{
	return tuple_hash(e->netns, e->family, e->saddr, e->sport, e->daddr, e->dport);
}

struct conntable *ct_new(const struct ct_config *cfg)
{
	struct conntable *t = calloc(1, sizeof(*t));
	uint32_t n;

	if (!t)
		return NULL;
	t->cfg = *cfg;
	pool_init(&t->conn_pool, sizeof(struct conn));
	pool_init(&t->req_pool, sizeof(struct req));
	pool_init(&t->tw_pool, sizeof(struct tw_info));
	pool_init(&t->rp_pool, sizeof(struct rst_pend));
	n = cfg->max_conns ? cfg->max_conns : 65536;
	t->cfg.max_conns = n;
	if (!t->cfg.grace_ns)
		t->cfg.grace_ns = 100000000ULL;
	t->socks = u64map_new(n);
	t->tws = u64map_new(n);
	t->tw_new = u64map_new(n);
	t->tw_cancelled = u64map_new(n);
	t->reqs = u64map_new(n);
	t->req_tuples = u64map_new(n);
	t->rst_pend = u64map_new(n < RST_WAIT_MAX ? n : RST_WAIT_MAX);
	t->rst_closed = u64map_new(n < RST_WAIT_MAX ? n : RST_WAIT_MAX);
	if (!t->socks || !t->tws || !t->tw_new || !t->tw_cancelled || !t->reqs || !t->req_tuples ||
	    !t->rst_pend || !t->rst_closed) {
		ct_free(t);
		return NULL;
	}
	return t;
}

void ct_free(struct conntable *t)
{
	if (!t)
		return;
	/* every conn, req and tw_info lives in a pool */
	pool_destroy(&t->conn_pool);
	pool_destroy(&t->req_pool);
	pool_destroy(&t->tw_pool);
	pool_destroy(&t->rp_pool);
	u64map_free(t->socks);
	u64map_free(t->tws);
	u64map_free(t->tw_new);
	u64map_free(t->tw_cancelled);
	u64map_free(t->reqs);
	u64map_free(t->req_tuples);
	u64map_free(t->rst_pend);
	u64map_free(t->rst_closed);
	free(t);
}

void ct_get_stats(const struct conntable *t, struct ct_stats *s)
{
	*s = t->st;
	s->live = u64map_count(t->socks) + u64map_count(t->tws);
}

static int64_t dur(uint64_t from, uint64_t to)
{
	if (!from || to < from)
		return -1;
	return (int64_t)(to - from);
}

static void phase_add(struct conn *c, int ph, int64_t ns)
{
	int64_t sum;

	if (ns < 0 || ph < 0)
		return;
	/* saturate: a corrupt recording must not overflow */
	if (__builtin_add_overflow(c->ph[ph] < 0 ? 0 : c->ph[ph], ns, &sum))
		sum = INT64_MAX;
	c->ph[ph] = sum;
}

static int phase_of_state(int state)
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

/*
 * Hand the aggregates the parts of c that are known for good and were not
 * handed out yet: the phases that have ended, the result once the handshake
 * is over, the TIME_WAIT's end once it is known; with final (the record is
 * complete), all that is left.
 */
static void hand_out(struct conntable *t, struct conn *c, bool final)
{
	unsigned int parts = 0;

	if (c->role == ROLE_LISTENER)
		return;
	for (int p = 0; p < PH_MAX; p++)
		if (c->ph[p] >= 0)
			parts |= CT_PART(p);
	if (final || c->result != RES_NONE)
		parts |= CT_PART(CT_PART_RESULT);
	if (final || (c->tw_end != TWE_NONE_YET && c->tw_end != TWE_IN_PROGRESS))
		parts |= CT_PART(CT_PART_TW_END);
	if (final)
		parts |= CT_PART(CT_PART_RECORD);
	parts &= ~c->handed;
	if (!parts)
		return;
	c->handed |= parts;
	if (t->cfg.on_parts)
		t->cfg.on_parts(t->cfg.ctx, c, parts);
}

/*
 * Tracing stops with c's phase under way: hand out what ended before, and
 * keep the phase cut short out of the aggregates (its time is only a lower
 * bound); the record still shows it.
 */
static void cut_short(struct conntable *t, struct conn *c, int ph, int64_t so_far)
{
	hand_out(t, c, false);
	phase_add(c, ph, so_far);
	if (ph >= 0)
		c->handed |= CT_PART(ph);
}

static void emit(struct conntable *t, struct conn *c, enum rec_kind kind)
{
	if (c->role == ROLE_LISTENER)
		return;
	hand_out(t, c, kind == REC_FINAL);
	if (kind == REC_FINAL) {
		t->st.records++;
		if (c->partial)
			t->st.partial++;
	} else {
		c->emitted_closed = true;
	}
	if (t->cfg.on_record)
		t->cfg.on_record(t->cfg.ctx, c, kind);
}

/*
 * A socket's record. An aggregated record expands into a run of events of
 * one socket: the last answer is kept, and forgotten when its entry goes.
 */
static struct conn *sock_get(struct conntable *t, uint64_t sk)
{
	struct conn *c = t->sock_last;

	if (c && c->sk == sk && sk)
		return c;
	c = u64map_get(t->socks, sk);
	if (c)
		t->sock_last = c;
	return c;
}

static void sock_del(struct conntable *t, uint64_t sk)
{
	if (t->sock_last && t->sock_last->sk == sk)
		t->sock_last = NULL;
	u64map_del(t->socks, sk);
}

static struct conn *conn_new(struct conntable *t, const struct event *e)
{
	struct conn *c;

	if (u64map_count(t->socks) >= t->cfg.max_conns) {
		t->st.table_full++;
		return NULL;
	}
	c = pool_get(&t->conn_pool);
	if (!c) {
		t->st.table_full++;
		return NULL;
	}
	for (int i = 0; i < PH_MAX; i++)
		c->ph[i] = -1;
	c->sk = e->id;
	c->netns = e->netns;
	c->family = e->family;
	c->cgroup = e->cgroup;
	c->t_start = e->ts_ns;
	if (u64map_put(t->socks, e->id, c)) {
		pool_put(&t->conn_pool, c);
		t->st.table_full++;
		return NULL;
	}
	return c;
}

/* Name the task that owns the endpoint, unless a stronger source named one. */
static void take_owner(struct conn *c, uint32_t pid, const char *comm, enum owner_src src)
{
	if (!pid || src < c->owner_src)
		return;
	c->pid = pid;
	memcpy(c->comm, comm, sizeof(c->comm));
	c->comm[sizeof(c->comm) - 1] = '\0';
	c->owner_src = src;
}

/*
 * The first task seen acting on the socket in a system call owns it: the
 * connecting task, or for a passive socket the one that closes it (a
 * forked worker, not the listener's owner that was assumed at the join).
 */
static void set_owner(struct conn *c, const struct event *e)
{
	if ((e->flags & EVF_PROC_CTX) && c->owner_src < OWNER_SYSCALL)
		take_owner(c, e->pid, e->comm, OWNER_SYSCALL);
}

/*
 * The endpoint is done with: free it, or, while the pending list still
 * holds it, drop its keys so that the tick frees it.
 */
static void conn_release(struct conntable *t, struct conn *c)
{
	c->sk = c->tw = 0;
	if (!c->on_pending)
		pool_put(&t->conn_pool, c);
}

static void set_tuple(struct conn *c, const struct event *e)
{
	memcpy(c->laddr, e->saddr, sizeof(c->laddr));
	memcpy(c->raddr, e->daddr, sizeof(c->raddr));
	if (e->sport)
		c->lport = e->sport;
	if (e->dport)
		c->rport = e->dport;
}

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

/* A child socket appeared: take over its request's SYN time and owner. */
static void join_request(struct conntable *t, struct conn *c, const struct event *e)
{
	struct req *r = u64map_get(t->req_tuples, event_tuple(e));

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
	if (r)
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

static void take_counters(struct conn *c, const struct event *e)
{
	c->tx_bytes = e->tx_bytes;
	c->rx_bytes = e->rx_bytes;
	c->retrans = e->retrans;
	c->srtt_us = e->srtt_us;
}

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
static void tw_phase_end(struct conn *c, uint64_t ts)
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
static void tw_finish(struct conntable *t, struct conn *c, uint64_t ts, int end)
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

/* A "-> CLOSE" just handled for the same socket and transition: a duplicate. */
static bool recently_closed(struct conntable *t, const struct event *e)
{
	for (int i = 0; i < RECENT_CLOSES; i++)
		if (t->closed[i].sk == e->id && t->closed[i].oldstate == e->oldstate)
			return true;
	return false;
}

/*
 * Resets. A reset comes as an EV_RST of its own, joined to its endpoint by
 * the socket: a live one at once; one whose socket is not known yet
 * (aggregating, the socket's record crosses at its close, after the reset)
 * waits a grace period in rst_pend for its socket's close. A socket can
 * send its reset right after its "-> CLOSE" (close() with unread data,
 * SO_LINGER 0): a socket closed from a state where that can happen, with no
 * reset known, is held a grace period in rst_closed before it is written.
 */
static void rst_set(struct conn *c, uint8_t dir, uint32_t reason)
{
	if (c->rst)
		return; /* the first one ended it */
	c->rst = dir;
	c->rst_reason = dir == RST_SENT ? reason : RST_REASON_NONE;
}

/* The reset that waited for this socket, if any: c's now. */
static void rst_take_pending(struct conntable *t, struct conn *c, uint64_t sk)
{
	struct rst_pend *p = u64map_count(t->rst_pend) ? u64map_del(t->rst_pend, sk) : NULL;

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
static bool rst_hold(struct conntable *t, struct conn *c, int old, int err)
{
	if (c->rst || err || c->role == ROLE_LISTENER)
		return false;
	if (old != TS_ESTABLISHED && old != TS_CLOSE_WAIT && old != TS_FIN_WAIT1 &&
	    old != TS_FIN_WAIT2 && old != TS_CLOSING && old != TS_SYN_RECV)
		return false;
	/* the address may be a new socket's already: the latest close counts */
	if (u64map_get(t->rst_closed, c->sk))
		u64map_del(t->rst_closed, c->sk);
	if (u64map_count(t->rst_closed) >= RST_WAIT_MAX || u64map_put(t->rst_closed, c->sk, c))
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

/* Write the held closes older than the grace period (all: UINT64_MAX). */
static void rst_release(struct conntable *t, uint64_t now)
{
	struct conn *c;

	while ((c = t->rq_head) && (now == UINT64_MAX || now > c->t_end + t->cfg.grace_ns)) {
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

static void on_rst(struct conntable *t, const struct event *e)
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

/* The full socket is gone; a tw sock may carry on the endpoint. */
static void sock_closed(struct conntable *t, struct conn *c, const struct event *e)
{
	struct tw_info *tw = e->aux ? u64map_del(t->tw_new, e->aux) : NULL;
	int old = e->oldstate;

	t->closed[t->closed_next].sk = e->id;
	t->closed[t->closed_next].oldstate = e->oldstate;
	t->closed_next = (t->closed_next + 1) % RECENT_CLOSES;
	sock_del(t, c->sk);
	take_counters(c, e);
	c->t_end = e->ts_ns;
	rst_take_pending(t, c, e->id);
	if (tw)
		tw->claimed = true; /* the queue frees it */
	if (c->role == ROLE_LISTENER) {
		pool_put(&t->conn_pool, c);
		return;
	}
	if (old == TS_SYN_SENT || old == TS_SYN_RECV) {
		c->result = result_of_err(e->err);
		c->err = e->err;
		c->syn_retrans = old == TS_SYN_SENT ? e->retrans : c->syn_retrans;
		c->ph[PH_HANDSHAKE] = dur(c->t_start, e->ts_ns);
	} else if (old == TS_ESTABLISHED || (old == TS_CLOSE_WAIT && e->err)) {
		c->closer = CLOSER_RESET;
	}
	if (tw) {
		struct conn *prev = u64map_get(t->tws, e->aux);

		if (prev && prev != c)
			tw_superseded(t, prev, tw->t_start);
	}
	if (tw && u64map_put(t->tws, e->aux, c) == 0) {
		c->tw = e->aux;
		c->t_tw_start = tw->t_start;
		c->tw_substate = tw->substate;
		if (tw->substate == TS_FIN_WAIT2 && old == TS_FIN_WAIT2) {
			c->t_fw2 = c->t_state; /* the orphan's FIN_WAIT2 goes on */
		} else {
			phase_add(c, phase_of_state(old), dur(c->t_state, e->ts_ns));
			c->t_tw = tw->t_start;
		}
		c->sk = 0;
		c->closing_seen = true;
		emit(t, c, REC_CLOSED);
		return;
	}
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

static void on_state(struct conntable *t, const struct event *e)
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
	} else if (old == TS_ESTABLISHED && new == TS_FIN_WAIT1) {
		c->closer = CLOSER_LOCAL;
	} else if (old == TS_ESTABLISHED && new == TS_CLOSE_WAIT) {
		c->closer = CLOSER_REMOTE;
	} else if (old == TS_FIN_WAIT1 && new == TS_CLOSING) {
		c->closer = CLOSER_SIMULTANEOUS;
	}
	if (new == TS_FIN_WAIT1 || new == TS_CLOSE_WAIT || new == TS_FIN_WAIT2 ||
	    new == TS_LAST_ACK || new == TS_CLOSING)
		c->closing_seen = true;

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

static void on_accept(struct conntable *t, const struct event *e)
{
	struct conn *c = sock_get(t, e->id);

	if (!c)
		return;
	take_owner(c, e->pid, e->comm, OWNER_ACCEPT);
	if (c->t_established && c->ph[PH_ACCEPT_WAIT] < 0)
		c->ph[PH_ACCEPT_WAIT] = dur(c->t_established, e->ts_ns);
	hand_out(t, c, false);
}

static void conn_pending_add(struct conntable *t, struct conn *c)
{
	if (c->on_pending)
		return;
	c->on_pending = true;
	c->pending_next = t->pending;
	t->pending = c;
}

static void req_pending_add(struct conntable *t, struct req *r)
{
	if (r->on_pending)
		return;
	r->on_pending = true;
	r->pending_next = t->req_pending;
	t->req_pending = r;
}

static void on_tw(struct conntable *t, const struct event *e)
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

static void on_req(struct conntable *t, const struct event *e)
{
	struct req *r = u64map_get(t->reqs, e->id);

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
		if (u64map_put(t->reqs, r->id, r)) {
			pool_put(&t->req_pool, r);
			t->st.table_full++;
			return;
		}
		u64map_put(t->req_tuples, tuple, r);
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

void ct_event(struct conntable *t, const struct event *e)
{
	if (!t->t_first)
		t->t_first = e->ts_ns;
	switch (e->type) {
	case EV_STATE:
		on_state(t, e);
		break;
	case EV_ACCEPT:
		on_accept(t, e);
		break;
	case EV_TW_START:
	case EV_TW_EXPIRE:
	case EV_TW_CANCEL:
	case EV_TW_PROBE:
		on_tw(t, e);
		break;
	case EV_REQ_START:
	case EV_REQ_EXPIRE:
	case EV_REQ_CANCEL:
		on_req(t, e);
		break;
	case EV_RST:
		on_rst(t, e);
		break;
	}
}

struct reap_ctx {
	struct conntable *t;
	uint64_t now;
	uint64_t keys[64];
	int n;
};

static void collect_stale_req(uint64_t key, void *val, void *arg)
{
	struct reap_ctx *r = arg;
	struct req *q = val;

	if (r->n < 64 && !q->on_pending && r->now > q->t_last + REQ_STALE_NS)
		r->keys[r->n++] = key;
}

void ct_tick(struct conntable *t, uint64_t now)
{
	struct conn **pc = &t->pending, *c;
	struct req **pr = &t->req_pending, *r;
	struct reap_ctx rc = { .t = t, .now = now };

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
	/* tw socks nobody claimed (filtered out, or closed before tracing) */
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
	rst_release(t, now);
	rst_pend_reap(t, now);
	if (now > t->t_last_reap + 10000000000ULL) {
		t->t_last_reap = now;
		rc.n = 0;
		u64map_each(t->reqs, collect_stale_req, &rc);
		for (int i = 0; i < rc.n; i++)
			req_unlink(t, u64map_get(t->reqs, rc.keys[i]));
	}
}

struct flush_ctx {
	struct conntable *t;
	uint64_t now;
	struct conn **v; /* the endpoints to write, gathered to be sorted */
	size_t n, cap;
	bool short_of_memory;
};

static void flush_tw(uint64_t key, void *val, void *arg)
{
	struct flush_ctx *f = arg;
	struct conn *c = val;

	hand_out(f->t, c, false);
	tw_phase_end(c, f->now);
	c->handed |= CT_PART(c->tw_substate == TS_FIN_WAIT2 ? PH_FIN_WAIT2 : PH_TIME_WAIT);
	c->tw_end = TWE_IN_PROGRESS;
	c->t_end = f->now;
	emit(f->t, c, REC_FINAL);
}

static void flush_sock(uint64_t key, void *val, void *arg)
{
	struct flush_ctx *f = arg;
	struct conn *c = val;

	if (c->role == ROLE_LISTENER)
		return;
	/* cut short: the phase under way gets its time so far */
	cut_short(f->t, c, phase_of_state(c->state), dur(c->t_state, f->now));
	c->partial = true;
	c->t_end = f->now;
	c->tw_end = TWE_IN_PROGRESS;
	emit(f->t, c, REC_FINAL);
}

static void gather(uint64_t key, void *val, void *arg)
{
	struct flush_ctx *f = arg;

	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 256;
		struct conn **p = realloc(f->v, cap * sizeof(*p));

		if (!p) {
			f->short_of_memory = true;
			return;
		}
		f->v = p;
		f->cap = cap;
	}
	f->v[f->n++] = val;
}

/* Oldest first, then by tuple: an order the endpoints' own facts decide. */
static int by_start(const void *a, const void *b)
{
	const struct conn *x = *(struct conn *const *)a, *y = *(struct conn *const *)b;

	if (x->t_start != y->t_start)
		return x->t_start < y->t_start ? -1 : 1;
	if (x->netns != y->netns)
		return x->netns < y->netns ? -1 : 1;
	if (x->lport != y->lport)
		return x->lport < y->lport ? -1 : 1;
	if (x->rport != y->rport)
		return x->rport < y->rport ? -1 : 1;
	return memcmp(x->raddr, y->raddr, sizeof(x->raddr));
}

/*
 * Write the endpoints of map m with fn, sorted: the keys are kernel
 * addresses (or their names in a recording), so their hash order would
 * differ between a live run and its replay.
 */
static void flush_sorted(struct flush_ctx *f, struct u64map *m,
			 void (*fn)(uint64_t key, void *val, void *arg))
{
	f->n = 0;
	u64map_each(m, gather, f);
	if (f->short_of_memory) {
		u64map_each(m, fn, f); /* unsorted, but written */
		return;
	}
	if (f->n > 1)
		qsort(f->v, f->n, sizeof(*f->v), by_start);
	for (size_t i = 0; i < f->n; i++)
		fn(0, f->v[i], f);
}

void ct_flush(struct conntable *t, uint64_t now)
{
	struct flush_ctx f = { .t = t, .now = now };

	ct_tick(t, now);
	/* cancels still in their grace period: settle them as of now */
	ct_tick(t, now + t->cfg.grace_ns + 1);
	flush_sorted(&f, t->tws, flush_tw);
	flush_sorted(&f, t->socks, flush_sock);
	free(f.v);
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

const char *role_name(int role)
{
	static const char *const names[] = { "unknown", "active", "passive", "listener" };

	return role >= 0 && role <= ROLE_LISTENER ? names[role] : "unknown";
}

const char *result_name(const struct conn *c, char *buf, int len)
{
	static const char *const names[] = { "",      "ok",	     "refused", "timeout",
					     "reset", "unreachable", "aborted" };

	if (c->result == RES_ERRNO)
		return errno_name(buf, len, c->err);
	return c->result <= RES_ABORTED ? names[c->result] : "";
}

const char *closer_name(int closer)
{
	static const char *const names[] = { "", "local", "remote", "simultaneous", "reset" };

	return closer >= 0 && closer <= CLOSER_RESET ? names[closer] : "";
}

const char *tw_end_name(int end)
{
	static const char *const names[] = { "",       "expired", "reused",	"recycled",
					     "killed", "none",	  "in_progress" };

	return end >= 0 && end <= TWE_IN_PROGRESS ? names[end] : "";
}
