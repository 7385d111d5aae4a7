// SPDX-License-Identifier: GPL-2.0
/*
 * ct_core.c - the connection table as a store: create and free it, hash a
 * tuple, look a socket up, insert an endpoint, release one. Every concern
 * (ct_*.c) builds on these; none of them is called from here.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ct_internal.h"

/* splitmix64's finalizer: every bit of x moves every bit of the result. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/*
 * A tuple's key in the table's maps, which hold the hash alone: the tuple
 * is packed into words (one-to-one for each family) and each word mixed in
 * whole, not byte by byte (a passive endpoint needs two of these).
 */
static uint64_t tuple_hash(uint32_t netns, uint8_t family, const uint8_t *laddr, uint16_t lport,
			   const uint8_t *raddr, uint16_t rport)
{
	uint64_t h = mix64((uint64_t)netns << 32 | (uint32_t)lport << 16 | rport);
	uint64_t w[4];

	if (family == AF_INET6) {
		memcpy(&w[0], laddr, 8);
		memcpy(&w[1], laddr + 8, 8);
		memcpy(&w[2], raddr, 8);
		memcpy(&w[3], raddr + 8, 8);
		for (int i = 0; i < 4; i++)
			h = mix64(h ^ w[i]);
	} else {
		uint32_t l, r;

		memcpy(&l, laddr, 4);
		memcpy(&r, raddr, 4);
		h = mix64(h ^ ((uint64_t)l << 32 | r));
	}
	h = mix64(h ^ family);
	return h ? h : 1;
}

uint64_t conn_tuple(const struct conn *c)
{
	return tuple_hash(c->netns, c->family, c->laddr, c->lport, c->raddr, c->rport);
}

uint64_t event_tuple(const struct event *e)
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
	n = cfg->max_conns ? cfg->max_conns : MAX_CONNS_DEFAULT;
	t->cfg.max_conns = n;
	if (!t->cfg.grace_ns)
		t->cfg.grace_ns = GRACE_NS_DEFAULT;
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

/*
 * A socket's record. An aggregated record expands into a run of events of
 * one socket: the last answer is kept, and forgotten when its entry goes.
 */
struct conn *sock_get(struct conntable *t, uint64_t sk)
{
	struct conn *c = t->sock_last;

	if (c && c->sk == sk && sk)
		return c;
	c = u64map_get(t->socks, sk);
	if (c)
		t->sock_last = c;
	return c;
}

void sock_del(struct conntable *t, uint64_t sk)
{
	if (t->sock_last && t->sock_last->sk == sk)
		t->sock_last = NULL;
	u64map_del(t->socks, sk);
}

struct conn *conn_new(struct conntable *t, const struct event *e)
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

/*
 * The endpoint is done with: free it, or, while the pending list still
 * holds it, drop its keys so that the tick frees it.
 */
void conn_release(struct conntable *t, struct conn *c)
{
	c->sk = c->tw = 0;
	if (!c->on_pending)
		pool_put(&t->conn_pool, c);
}

void set_tuple(struct conn *c, const struct event *e)
{
	memcpy(c->laddr, e->saddr, sizeof(c->laddr));
	memcpy(c->raddr, e->daddr, sizeof(c->raddr));
	if (e->sport)
		c->lport = e->sport;
	if (e->dport)
		c->rport = e->dport;
}

void take_counters(struct conn *c, const struct event *e)
{
	c->tx_bytes = e->tx_bytes;
	c->rx_bytes = e->rx_bytes;
	c->retrans = e->retrans;
	c->srtt_us = e->srtt_us;
}
