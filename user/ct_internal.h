/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ct_internal.h - the connection table's insides, shared by its files only
 * (the rest of tcpphase sees conntable.h). One file per concern, as on the
 * BPF side:
 *   ct_table.c      the entry points: dispatch, tick, flush, stats, names
 *   ct_core.c       the store: create, free, look up, insert, release
 *   ct_state.c      a full socket's state changes, its close (state.bpf.h)
 *   ct_handshake.c  handshakes: active ones, the passive join to its request
 *                   sock by tuple, failed requests (reqtimer.bpf.h)
 *   ct_phases.c     phase times, the half-close states, who closed first
 *   ct_timewait.c   the tw sock that carries an endpoint on (twtimer.bpf.h)
 *   ct_owner.c      who owns an endpoint (accept.bpf.h, the syscall context)
 *   ct_resets.c     resets joined to their endpoint (resets.bpf.h)
 *   ct_parts.c      the parts handed out to the aggregates, the records out
 */
#ifndef __CT_INTERNAL_H
#define __CT_INTERNAL_H

#include "conntable.h"
#include "pool.h"
#include "u64map.h"

/* The kernel's TCP_TIMEWAIT_LEN: a tw timer's expiry minus this is its arming. */
#define TCP_TIMEWAIT_LEN_NS (60ULL * 1000000000ULL)
#define RECENT_CLOSES 64
#define REQ_STALE_NS (300ULL * 1000000000ULL)
/* How often the requests nobody settled are looked for (REQ_STALE_NS). */
#define REQ_REAP_EVERY_NS (10ULL * 1000000000ULL)
/* Requests reaped per look: the rest wait for the next one. */
#define REQ_REAP_MAX 64
/*
 * A child with no request seen this long after tracing began is a syncookie
 * one; sooner, its SYN may simply predate us (then the record is partial).
 */
#define SYNCOOKIE_AFTER_NS (1ULL * 1000000000ULL)
/* How long a timer cancel waits for its re-arm, unless ct_config says. */
#define GRACE_NS_DEFAULT 100000000ULL
/* Endpoints (and requests) tracked, unless ct_config says. */
#define MAX_CONNS_DEFAULT 65536

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
 * A socket sends its reset in the same call as its "-> CLOSE" (tcp_close(),
 * tcp_disconnect()): microseconds after it. A close is held until events
 * this much later have come in (the stream is in time order), so it is
 * written while still in cache; ct_tick's grace period is the backstop
 * when no event comes.
 */
#define RST_LATE_NS 2000000ULL

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
	/*
	 * The request just started, not in reqs or req_tuples yet: its child's
	 * join usually comes next (aggregating, in the same record), and then
	 * neither map is touched. Anything else that needs the maps files it
	 * first (req_file).
	 */
	struct req *req_fresh;
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
	uint64_t t_seen; /* the latest event time seen: every earlier one has come in */
	uint64_t t_last_reap;
	struct ct_stats st;
	/* resets (see ct_resets.c) */
	struct u64map *rst_pend; /* sk -> rst_pend: its socket not known yet */
	struct u64map *rst_closed; /* sk -> conn closed, held for a reset sent after */
	struct rst_pend *rp_head, *rp_tail; /* rst_pend entries, oldest first */
	struct conn *rq_head, *rq_tail; /* rst_closed conns, oldest first */
	struct pool rp_pool;
};

/* ct_core.c: the store */
uint64_t conn_tuple(const struct conn *c);
uint64_t event_tuple(const struct event *e);
struct conn *sock_get(struct conntable *t, uint64_t sk);
void sock_del(struct conntable *t, uint64_t sk);
struct conn *conn_new(struct conntable *t, const struct event *e);
void conn_release(struct conntable *t, struct conn *c);
void set_tuple(struct conn *c, const struct event *e);
void take_counters(struct conn *c, const struct event *e);

/* ct_state.c */
void on_state(struct conntable *t, const struct event *e);

/* ct_handshake.c */
void hs_step(struct conntable *t, struct conn *c, const struct event *e);
bool hs_failed(struct conn *c, const struct event *e);
void on_req(struct conntable *t, const struct event *e);
void req_tick(struct conntable *t, uint64_t now);

/* ct_phases.c: durations in ns, -1 when not known */
int64_t dur(uint64_t from, uint64_t to);
void phase_add(struct conn *c, int ph, int64_t ns);
int phase_of_state(int state);
void close_step(struct conn *c, int old, int new);

/* ct_timewait.c */
struct tw_info *tw_claim(struct conntable *t, uint64_t tw);
bool tw_take_over(struct conntable *t, struct conn *c, const struct event *e,
		  const struct tw_info *tw);
void tw_phase_end(struct conn *c, uint64_t ts);
void tw_finish(struct conntable *t, struct conn *c, uint64_t ts, int end);
void on_tw(struct conntable *t, const struct event *e);
void tw_tick(struct conntable *t, uint64_t now);

/* ct_owner.c */
void take_owner(struct conn *c, uint32_t pid, const char *comm, enum owner_src src);
void set_owner(struct conn *c, const struct event *e);
void on_accept(struct conntable *t, const struct event *e);

/* ct_resets.c */
void on_rst(struct conntable *t, const struct event *e);
void rst_take_pending(struct conntable *t, struct conn *c, uint64_t sk);
bool rst_hold(struct conntable *t, struct conn *c, int old, int err);
void rst_settle(struct conntable *t);
void rst_tick(struct conntable *t, uint64_t now);

/* ct_parts.c */
void hand_out(struct conntable *t, struct conn *c, bool final);
void cut_short(struct conntable *t, struct conn *c, int ph, int64_t so_far);
void emit(struct conntable *t, struct conn *c, enum rec_kind kind);

#endif /* __CT_INTERNAL_H */
