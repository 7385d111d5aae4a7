// SPDX-License-Identifier: GPL-2.0
/*
 * test_agg.c - EV_AGG records (a socket's transitions gathered in the
 * kernel) expanded back into events: the order, who owns what, and that the
 * connection table makes the same record of them as of the events the
 * kernel side sends when it does not aggregate.
 */
#include <stdlib.h>
#include <sys/socket.h>

#include "agg.h"
#include "conntable.h"
#include "tuples.h"
#include "unit.h"

#define US(x) ((uint64_t)(x)*1000ULL)
#define MS(x) ((uint64_t)(x)*1000000ULL)
#define S0 (1000ULL * 1000000000ULL)
#define NETNS 4026531840u
#define SK1 0xffff888001000000ULL
#define LSK 0xffff888010000000ULL
#define TW1 0xffff888020000000ULL
#define REQ1 0xffff888030000000ULL

static const struct tup SRV = { AF_INET, { 10, 0, 0, 2 }, { 10, 0, 0, 1 }, 80, 40000 };

static struct event head(uint64_t sk, const struct tup *tp)
{
	struct event e = { .type = EV_AGG, .id = sk, .netns = NETNS };

	set_tup(&e, tp);
	return e;
}

static void step(struct agg_event *a, uint64_t ts, int old, int new)
{
	struct agg_step *s = &a->steps[a->n_steps++];

	s->ts_ns = ts;
	s->oldstate = old;
	s->newstate = new;
}

/* The client of a connection it closes first: connect(), close(), TIME_WAIT. */
static struct agg_event active_record(void)
{
	struct agg_event a = { .head = head(SK1, &CLI), .owner_step = 0 };

	step(&a, S0, TS_CLOSE, TS_SYN_SENT);
	step(&a, S0 + MS(50), TS_SYN_SENT, TS_ESTABLISHED);
	step(&a, S0 + MS(1050), TS_ESTABLISHED, TS_FIN_WAIT1);
	step(&a, S0 + MS(1100), TS_FIN_WAIT1, TS_FIN_WAIT2);
	step(&a, S0 + MS(1150) + US(5), TS_FIN_WAIT2, TS_CLOSE);
	a.steps[1].retrans = 1;
	a.head.pid = 100;
	memcpy(a.head.comm, "curl", 5);
	a.head.aux = TW1;
	a.tw_start_ns = S0 + MS(1150);
	a.tw_expires_ns = S0 + MS(61150);
	a.tw_substate = TS_TIME_WAIT;
	a.head.tx_bytes = 1000;
	a.head.rx_bytes = 2000;
	a.head.retrans = 2;
	a.head.srtt_us = 250;
	return a;
}

/* The server's child: its request, accept() 3 ms after ESTABLISHED, a remote close. */
static struct agg_event passive_record(void)
{
	struct agg_event a = { .head = head(SK1, &SRV), .owner_step = 3 };
	uint64_t t_child = S0 + MS(31);

	a.req = REQ1;
	a.req_syn_ns = S0;
	a.req_listener = LSK;
	a.req_retrans = 0;
	step(&a, t_child, TS_LISTEN, TS_SYN_RECV);
	step(&a, t_child + US(5), TS_SYN_RECV, TS_ESTABLISHED);
	step(&a, S0 + MS(500), TS_ESTABLISHED, TS_CLOSE_WAIT);
	step(&a, S0 + MS(800), TS_CLOSE_WAIT, TS_LAST_ACK);
	step(&a, S0 + MS(830), TS_LAST_ACK, TS_CLOSE);
	a.accept_ns = t_child + MS(3);
	a.accept_pid = 300;
	memcpy(a.accept_comm, "worker", 7);
	a.head.pid = 300;
	memcpy(a.head.comm, "worker", 7);
	return a;
}

static void test_expand_order(void)
{
	struct event ev[AGG_MAX_EVENTS];
	struct agg_event a;
	int n;

	if (SUBTEST("active: tw armed just before the close")) {
		static const int types[] = { EV_STATE, EV_STATE,    EV_STATE,
					     EV_STATE, EV_TW_START, EV_STATE };

		a = active_record();
		n = agg_expand(&a, ev);
		if (!ASSERT_EQ(n, 6, "events"))
			return;
		for (int i = 0; i < n; i++) {
			ASSERT_EQ(ev[i].type, types[i], "type");
			ASSERT_EQ(ev[i].netns, NETNS, "netns");
			ASSERT_EQ(ev[i].sport, CLI.lport, "sport");
			if (i)
				ASSERT_GE(ev[i].ts_ns, ev[i - 1].ts_ns, "time order");
		}
		ASSERT_EQ(ev[4].id, TW1, "tw id");
		ASSERT_EQ(ev[4].aux, S0 + MS(61150), "tw expiry");
		ASSERT_EQ(ev[4].newstate, TS_TIME_WAIT, "tw substate");
		ASSERT_EQ(ev[5].aux, TW1, "close names its tw");
		ASSERT_EQ(ev[5].id, SK1, "sk");
		ASSERT_EQ(ev[1].retrans, 1, "retrans at the handshake");
	}
	if (SUBTEST("passive: request first, accept after ESTABLISHED")) {
		a = passive_record();
		n = agg_expand(&a, ev);
		if (!ASSERT_EQ(n, 7, "events"))
			return;
		ASSERT_EQ(ev[0].type, EV_REQ_START, "request first");
		ASSERT_EQ(ev[0].id, REQ1, "req id");
		ASSERT_EQ(ev[0].aux, LSK, "listener");
		ASSERT_EQ(ev[0].ts_ns, S0, "SYN time");
		ASSERT_EQ(ev[3].type, EV_ACCEPT, "accept after ESTABLISHED");
		ASSERT_EQ(ev[3].pid, 300, "accept pid");
		ASSERT_EQ(ev[3].newstate, TS_ESTABLISHED, "accepted while established");
		for (int i = 1; i < n; i++)
			ASSERT_GE(ev[i].ts_ns, ev[i - 1].ts_ns, "time order");
	}
	if (SUBTEST("accept after the close comes last")) {
		a = passive_record();
		a.accept_ns = S0 + MS(900);
		n = agg_expand(&a, ev);
		ASSERT_EQ(n, 7, "events");
		ASSERT_EQ(ev[6].type, EV_ACCEPT, "last");
	}
}

static void test_expand_owner(void)
{
	struct event ev[AGG_MAX_EVENTS];
	struct agg_event a = active_record();
	int n = agg_expand(&a, ev);

	for (int i = 0; i < n; i++) {
		bool owner = i == 0;

		ASSERT_EQ(!!(ev[i].flags & EVF_PROC_CTX), owner, "process context");
		ASSERT_EQ(ev[i].pid, owner ? 100 : 0, "pid");
		ASSERT_EQ(!strcmp(ev[i].comm, "curl"), owner, "comm");
		/* the counters were read at the last step only */
		ASSERT_EQ(ev[i].tx_bytes, i == n - 1 ? 1000 : 0, "tx_bytes");
	}
	if (SUBTEST("no owner step")) {
		a.owner_step = 0xff;
		n = agg_expand(&a, ev);
		for (int i = 0; i < n; i++)
			ASSERT_EQ(ev[i].pid, 0, "pid");
	}
}

static void test_expand_bad(void)
{
	struct event ev[AGG_MAX_EVENTS];
	struct agg_event a = active_record();

	a.n_steps = 0;
	ASSERT_EQ(agg_expand(&a, ev), 0, "no steps");
	a.n_steps = AGG_STEPS + 1;
	ASSERT_EQ(agg_expand(&a, ev), 0, "too many steps");
	a.n_steps = AGG_STEPS;
	ASSERT_LE(agg_expand(&a, ev), AGG_MAX_EVENTS, "full record");
}

/* ---- the table makes the same record either way ---- */

static struct conn got[4];
static int ngot;

static void on_record(void *ctx, const struct conn *c, enum rec_kind kind)
{
	if (kind == REC_FINAL && ngot < 4)
		got[ngot++] = *c;
}

/* Feed events through a fresh table; the first final record, settled at 'end'. */
static bool table_record(const struct event *ev, int n, uint64_t end, struct conn *out)
{
	struct ct_config cfg = { .max_conns = 64, .grace_ns = MS(100), .on_record = on_record };
	struct conntable *t = ct_new(&cfg);
	struct event l = head(LSK, &SRV);

	if (!ASSERT_OK_PTR(t, "ct_new"))
		return false;
	ngot = 0;
	/* the listener is sent per transition, aggregating or not */
	l.type = EV_STATE;
	l.ts_ns = S0 - MS(1000);
	l.oldstate = TS_CLOSE;
	l.newstate = TS_LISTEN;
	l.flags = EVF_PROC_CTX;
	l.pid = 200;
	ct_event(t, &l);
	for (int i = 0; i < n; i++)
		ct_event(t, &ev[i]);
	ct_flush(t, end);
	ct_free(t);
	if (!ASSERT_GE(ngot, 1, "records"))
		return false;
	*out = got[0];
	return true;
}

static void check_same(const struct conn *a, const struct conn *b)
{
	ASSERT_EQ(a->role, b->role, "role");
	ASSERT_EQ(a->result, b->result, "result");
	ASSERT_EQ(a->closer, b->closer, "closer");
	ASSERT_EQ(a->tw_end, b->tw_end, "tw_end");
	ASSERT_EQ(a->partial, b->partial, "partial");
	ASSERT_EQ(a->pid, b->pid, "pid");
	ASSERT_OK(strcmp(a->comm, b->comm), "comm");
	ASSERT_EQ(a->lport, b->lport, "lport");
	ASSERT_EQ(a->rport, b->rport, "rport");
	ASSERT_OK(memcmp(a->raddr, b->raddr, sizeof(a->raddr)), "raddr");
	ASSERT_EQ(a->syn_retrans, b->syn_retrans, "syn_retrans");
	ASSERT_EQ(a->tx_bytes, b->tx_bytes, "tx_bytes");
	ASSERT_EQ(a->t_start, b->t_start, "t_start");
	ASSERT_EQ(a->t_end, b->t_end, "t_end");
	for (int i = 0; i < PH_MAX; i++)
		ASSERT_EQ(a->ph[i], b->ph[i], "phase");
}

/* Step i of a as the event the kernel side sends when not aggregating. */
static struct event state_ev(const struct agg_event *a, int i, const struct tup *tp)
{
	struct event e = head(a->head.id, tp);

	e.type = EV_STATE;
	e.ts_ns = a->steps[i].ts_ns;
	e.oldstate = a->steps[i].oldstate;
	e.newstate = a->steps[i].newstate;
	e.retrans = a->steps[i].retrans;
	return e;
}

static void test_same_record(void)
{
	struct event ev[AGG_MAX_EVENTS], raw[8];
	struct conn from_agg, from_raw;
	struct agg_event a;
	int n;

	if (SUBTEST("passive, with request and accept")) {
		a = passive_record();
		n = agg_expand(&a, ev);
		/* what the kernel side sends when not aggregating */
		raw[0] = head(REQ1, &SRV);
		raw[0].type = EV_REQ_START;
		raw[0].ts_ns = S0;
		raw[0].aux = LSK;
		raw[0].newstate = TS_NEW_SYN_RECV;
		raw[1] = state_ev(&a, 0, &SRV);
		raw[2] = state_ev(&a, 1, &SRV);
		raw[3] = head(SK1, &SRV);
		raw[3].type = EV_ACCEPT;
		raw[3].ts_ns = a.accept_ns;
		raw[3].flags = EVF_PROC_CTX;
		raw[3].pid = 300;
		memcpy(raw[3].comm, "worker", 7);
		raw[4] = state_ev(&a, 2, &SRV);
		raw[5] = state_ev(&a, 3, &SRV);
		raw[5].flags = EVF_PROC_CTX; /* CLOSE_WAIT -> LAST_ACK: close() */
		raw[5].pid = 300;
		memcpy(raw[5].comm, "worker", 7);
		raw[6] = state_ev(&a, 4, &SRV);
		if (!table_record(ev, n, S0 + MS(2000), &from_agg) ||
		    !table_record(raw, 7, S0 + MS(2000), &from_raw))
			return;
		check_same(&from_agg, &from_raw);
		ASSERT_EQ(from_agg.ph[PH_HANDSHAKE], MS(31) + US(5), "handshake from the SYN");
		ASSERT_EQ(from_agg.ph[PH_ACCEPT_WAIT], MS(3) - US(5), "accept wait");
		ASSERT_EQ(from_agg.ph[PH_CLOSE_WAIT], MS(300), "close wait");
	}
	if (SUBTEST("active, through TIME_WAIT")) {
		a = active_record();
		n = agg_expand(&a, ev);
		for (int i = 0; i < 5; i++)
			raw[i] = state_ev(&a, i, &CLI);
		raw[0].flags = EVF_PROC_CTX;
		raw[0].pid = 100;
		memcpy(raw[0].comm, "curl", 5);
		raw[5] = raw[4];
		raw[5].aux = TW1;
		raw[5].tx_bytes = 1000;
		raw[5].rx_bytes = 2000;
		raw[5].retrans = 2;
		raw[5].srtt_us = 250;
		raw[4] = head(TW1, &CLI);
		raw[4].type = EV_TW_START;
		raw[4].ts_ns = a.tw_start_ns;
		raw[4].newstate = TS_TIME_WAIT;
		raw[4].aux = a.tw_expires_ns;
		if (!table_record(ev, n, S0 + MS(5000), &from_agg) ||
		    !table_record(raw, 6, S0 + MS(5000), &from_raw))
			return;
		check_same(&from_agg, &from_raw);
		ASSERT_EQ(from_agg.ph[PH_HANDSHAKE], MS(50), "handshake");
		ASSERT_EQ(from_agg.ph[PH_FIN_WAIT2], MS(50) + US(5), "fin_wait2 to the close");
		ASSERT_EQ(from_agg.tw_end, TWE_IN_PROGRESS, "still in TIME_WAIT at the end");
	}
}

int main(int argc, char **argv)
{
	unit_init(argc, argv);
	RUN_TEST(test_expand_order);
	RUN_TEST(test_expand_owner);
	RUN_TEST(test_expand_bad);
	RUN_TEST(test_same_record);
	return unit_summary();
}
