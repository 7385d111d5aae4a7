// SPDX-License-Identifier: GPL-2.0
/*
 * agg.c - expand EV_AGG records (see bpf/tcpphase.h) into events.
 *
 * The kernel side keeps a socket's transitions in a slot and sends them
 * at once; what other hooks learnt of the socket (its request sock, its
 * accept(), the tw sock that took over) rides along instead of crossing
 * the ring buffer on its own. Here each becomes the event the kernel side
 * sends when it does not aggregate, in the order they happened.
 */
#include <string.h>

#include "agg.h"

/* An event of the socket's: tuple and cpu from the record, the rest cleared. */
static struct event *add(struct event *out, int *n, const struct agg_event *a, int type,
			 uint64_t ts)
{
	struct event *e = &out[(*n)++];

	*e = a->head;
	e->type = type;
	e->ts_ns = ts;
	e->aux = 0;
	e->tx_bytes = e->rx_bytes = 0;
	e->retrans = e->srtt_us = 0;
	e->pid = 0;
	e->comm[0] = 0;
	e->err = 0;
	e->flags = 0;
	e->oldstate = e->newstate = 0;
	return e;
}

static void add_step(struct event *out, int *n, const struct agg_event *a, int i, bool last)
{
	const struct agg_step *st = &a->steps[i];
	struct event *e = add(out, n, a, EV_STATE, st->ts_ns);

	e->oldstate = st->oldstate;
	e->newstate = st->newstate;
	e->err = st->err;
	e->flags = st->flags & ~EVF_PROC_CTX;
	e->retrans = st->retrans;
	if (i == a->owner_step) {
		e->flags |= EVF_PROC_CTX;
		e->pid = a->head.pid;
		memcpy(e->comm, a->head.comm, sizeof(e->comm));
	}
	if (last) {
		/* the counters and the tw sock were read at the last step */
		e->aux = a->head.aux;
		e->tx_bytes = a->head.tx_bytes;
		e->rx_bytes = a->head.rx_bytes;
		e->retrans = a->head.retrans;
		e->srtt_us = a->head.srtt_us;
	}
}

int agg_expand(const struct agg_event *a, struct event *out)
{
	int n = 0, steps = a->n_steps;
	bool accept_due = a->accept_ns != 0;

	if (steps < 1 || steps > AGG_STEPS)
		return 0;
	if (a->req) {
		struct event *e = add(out, &n, a, EV_REQ_START, a->req_syn_ns);

		e->id = a->req;
		e->aux = a->req_listener;
		e->retrans = a->req_retrans;
		e->flags = a->req_flags & EVF_SYNCOOKIE;
		e->newstate = TS_NEW_SYN_RECV;
	}
	for (int i = 0; i < steps; i++) {
		bool last = i == steps - 1;

		/* the tw sock is armed just before the socket closes */
		if (last && a->head.aux && a->steps[i].newstate == TS_CLOSE) {
			struct event *e = add(out, &n, a, EV_TW_START, a->tw_start_ns);

			e->id = a->head.aux;
			e->newstate = a->tw_substate;
			e->aux = a->tw_expires_ns;
			e->flags = EVF_FIRST_ARM;
		}
		add_step(out, &n, a, i, last);
		/* accept() comes after the step before it in time (or after the last) */
		if (accept_due && (last || a->steps[i + 1].ts_ns > a->accept_ns)) {
			struct event *e = add(out, &n, a, EV_ACCEPT, a->accept_ns);

			e->oldstate = e->newstate = a->steps[i].newstate;
			e->pid = a->accept_pid;
			memcpy(e->comm, a->accept_comm, sizeof(e->comm));
			accept_due = false;
		}
	}
	return n;
}
