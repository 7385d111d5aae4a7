// SPDX-License-Identifier: GPL-2.0
/*
 * ct_table.c - joins tcpphase's raw kernel events into one lifecycle per
 * TCP endpoint: the entry points of conntable.h, the
 * dispatch of each event to its concern, the tick that settles what waited
 * a grace period, and the flush at exit. The concerns are in ct_*.c (see
 * ct_internal.h).
 *
 * A full socket is followed by its address; two kernel objects that no
 * state tracepoint shows are joined to it: the request sock of a passive
 * open (ct_handshake.c) and the TIME_WAIT sock that replaces a closing
 * socket (ct_timewait.c).
 */
#include <stdlib.h>
#include <string.h>

#include "ct_internal.h"
#include "format.h"

void ct_get_stats(const struct conntable *t, struct ct_stats *s)
{
	*s = t->st;
	s->live = u64map_count(t->socks) + u64map_count(t->tws);
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
	/*
	 * The kernel's events come in time order; a probe is user space's, made
	 * "now", ahead of events still on their way (a reset after its close)
	 */
	if (e->type != EV_TW_PROBE && e->ts_ns > t->t_seen)
		t->t_seen = e->ts_ns;
	rst_settle(t);
}

/* Settle what waited a grace period: tw cancels, requests, closes held for a reset. */
void ct_tick(struct conntable *t, uint64_t now)
{
	tw_tick(t, now);
	req_tick(t, now);
	rst_tick(t, now);
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
