/* SPDX-License-Identifier: GPL-2.0 */
/*
 * conntable.h - the connection table: raw events in, per-endpoint lifecycle
 * records out. Free of libbpf and of I/O so that unit tests and replays can
 * drive it with synthetic events.
 *
 * Times are CLOCK_MONOTONIC ns (the BPF clock); durations are ns, and -1
 * means "did not happen or cannot be known".
 */
#ifndef __CONNTABLE_H
#define __CONNTABLE_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/types.h>

#include "tcpphase.h"

enum conn_role { ROLE_UNKNOWN, ROLE_ACTIVE, ROLE_PASSIVE, ROLE_LISTENER };

enum conn_result {
	RES_NONE, /* handshake not seen (socket open before tracing began) */
	RES_OK,
	RES_REFUSED,
	RES_TIMEOUT,
	RES_RESET,
	RES_UNREACHABLE,
	RES_ABORTED, /* closed locally before the handshake completed */
	RES_ERRNO, /* another errno: see conn.err */
};

enum conn_closer { CLOSER_NONE, CLOSER_LOCAL, CLOSER_REMOTE, CLOSER_SIMULTANEOUS, CLOSER_RESET };

enum tw_end {
	TWE_NONE_YET, /* not decided yet */
	TWE_EXPIRED,
	TWE_REUSED,
	TWE_RECYCLED,
	TWE_KILLED,
	TWE_NONE, /* closed with no TIME_WAIT */
	TWE_IN_PROGRESS,
};

/* Handshakes that the request-sock timer cannot time. */
enum hs_kind { HS_NORMAL, HS_SYNCOOKIE, HS_FASTOPEN };

enum phase {
	PH_HANDSHAKE,
	PH_ACCEPT_WAIT,
	PH_ESTABLISHED,
	PH_FIN_WAIT1,
	PH_FIN_WAIT2,
	PH_CLOSE_WAIT,
	PH_LAST_ACK,
	PH_CLOSING,
	PH_TIME_WAIT,
	PH_MAX,
};

/*
 * The parts of an endpoint that the aggregates (summary, metrics) count,
 * each handed out once (ct_config.on_parts) as soon as it is known for
 * good: one bit per enum phase, then these. So the figures move when the
 * thing happens (a handshake when it completes), not when the endpoint's
 * record is complete (after its TIME_WAIT).
 */
enum ct_part {
	CT_PART_RESULT = PH_MAX, /* the handshake's result */
	CT_PART_TW_END, /* how its TIME_WAIT ended (or that there was none) */
	CT_PART_RECORD, /* the record itself: it is complete */
};
#define CT_PART(p) (1U << (p))

/* Why a record is handed to the sinks. */
enum rec_kind {
	REC_CLOSED, /* the full socket closed; TIME_WAIT still to come */
	REC_FINAL, /* complete: nothing more will be learnt */
};

/*
 * How the owner was learnt, weakest first: a stronger source replaces a
 * weaker one, never the reverse.
 */
enum owner_src {
	OWNER_NONE,
	OWNER_LISTENER, /* passive: the listening socket's owner */
	OWNER_SYSCALL, /* the first task seen acting on the socket in a system call */
	OWNER_ACCEPT, /* passive, with --accept: the task that accept()ed it */
};

/* One TCP endpoint on this host. */
struct conn {
	uint64_t sk; /* full socket, 0 once closed */
	uint64_t tw; /* TIME_WAIT sock that took over, 0 if none */
	uint32_t pid; /* owner: connecting, accepting or closing task, else listener's */
	char comm[TASK_COMM_LEN];
	uint8_t owner_src; /* enum owner_src */
	uint16_t handed; /* CT_PART() bits handed out to on_parts */
	uint32_t netns;
	uint8_t family;
	uint8_t role; /* enum conn_role */
	uint8_t state; /* kernel TCP state as last seen */
	uint8_t result; /* enum conn_result */
	uint8_t closer; /* enum conn_closer */
	uint8_t tw_end; /* enum tw_end */
	uint8_t tw_substate; /* of the tw sock: FIN_WAIT2 (orphan) or TIME_WAIT */
	uint8_t hs_kind; /* enum hs_kind */
	bool partial; /* a transition was missed or the record was cut at exit */
	bool closing_seen; /* a close phase began: the record must be written */
	bool emitted_closed; /* REC_CLOSED was handed out */
	bool joined; /* passive: its request sock was looked for */
	bool stuck_reported; /* listed as stuck already (for the loader) */
	int err; /* sk_err when the handshake failed */
	uint8_t laddr[16], raddr[16];
	uint16_t lport, rport;
	uint64_t t_start; /* connect() or SYN arrival; first event if unknown */
	uint64_t t_state; /* entry into 'state'; 0 if unknown */
	uint64_t t_established;
	uint64_t t_end; /* last event (socket or TIME_WAIT end) */
	uint64_t t_tw_start; /* tw sock armed */
	uint64_t t_tw; /* TIME_WAIT proper began (after an orphan FIN_WAIT2) */
	uint64_t t_fw2; /* FIN_WAIT2 entry, kept across the tw handover */
	uint64_t t_pending; /* tw cancel awaiting its meaning, 0 if none */
	uint64_t pend_expires; /* that cancel's timer expiry (ns) */
	uint8_t pend_substate; /* and the tw substate it saw */
	int64_t ph[PH_MAX]; /* phase durations, ns, -1 if not applicable */
	uint32_t syn_retrans;
	uint64_t tx_bytes, rx_bytes;
	uint32_t retrans;
	uint32_t srtt_us;
	struct conn *pending_next; /* on the table's pending list */
	bool on_pending;
	/* cgroup v2 id the socket was made in (a failed request: its listener's), 0 if unknown */
	uint64_t cgroup;
	/* the reset that ended it: RST_SENT, RST_RECEIVED or 0, and its reason */
	uint8_t rst;
	bool rst_queued; /* closed, held a grace period for a reset sent after its close */
	uint32_t rst_reason; /* enum sk_rst_reason, RST_REASON_NONE if not known */
	struct conn *rst_next; /* on the table's queue of those held */
};

typedef void (*record_fn)(void *ctx, const struct conn *c, enum rec_kind kind);
/* Called with the parts of c (CT_PART() bits) that became known for good. */
typedef void (*parts_fn)(void *ctx, const struct conn *c, unsigned int parts);
/* Called for every state change (the --events stream), with the socket's record. */
typedef void (*transition_fn)(void *ctx, const struct event *e, const struct conn *c,
			      int64_t elapsed_ns);

struct ct_config {
	uint32_t max_conns; /* bound on tracked endpoints (and requests) */
	uint64_t grace_ns; /* how long a timer cancel waits for its re-arm */
	record_fn on_record;
	parts_fn on_parts;
	transition_fn on_transition;
	void *ctx;
	/* Called for every reset (EV_RST), ours or not, before it is joined. */
	void (*on_reset)(void *ctx, const struct event *e);
};

/* Counters of what the table could not follow; all are reported. */
struct ct_stats {
	uint64_t events;
	uint64_t records; /* REC_FINAL handed out */
	uint64_t partial; /* of which partial */
	uint64_t table_full; /* endpoints not tracked: max_conns reached */
	uint64_t missed; /* transitions that did not follow the last known state */
	uint64_t duplicates; /* the same transition twice (rescue overlap), ignored */
	uint64_t orphan_tw; /* tw socks never joined to a socket */
	uint64_t reqs_failed; /* passive handshakes that never completed */
	uint64_t tw_overflow; /* FIN_WAIT2/CLOSING -> CLOSE with no tw sock */
	uint64_t live; /* endpoints tracked now */
	uint64_t rst_unjoined; /* resets of a full socket that joined no endpoint's record */
};

struct conntable;

struct conntable *ct_new(const struct ct_config *cfg);
void ct_free(struct conntable *t);
/* Feed one raw event; events must come in ring-buffer order. */
void ct_event(struct conntable *t, const struct event *e);
/* Settle what waited for a grace period (tw cancel vs re-arm, req drops). */
void ct_tick(struct conntable *t, uint64_t now_ns);
/*
 * On exit: hand out every endpoint seen closing, TIME_WAIT as in progress.
 * Feed EV_TW_PROBE events for the orphan FIN_WAIT2 tw socks first (see
 * ct_each_orphan): their FIN may have come with no timer event.
 */
void ct_flush(struct conntable *t, uint64_t now_ns);
void ct_get_stats(const struct conntable *t, struct ct_stats *s);
/*
 * Parts go to fn from now on (ct_config.on_parts), set before the first
 * event: a table whose parts no one wants (NULL) does not work them out.
 */
void ct_set_parts(struct conntable *t, parts_fn fn);

/*
 * Endpoints sitting in CLOSE_WAIT or FIN_WAIT2 (an orphan one in its tw sock
 * included) for at least min_ns: fn gets each with its state and age.
 */
/* The tw socks of orphan FIN_WAIT2 endpoints, to read with probe_tw. */
void ct_each_orphan(struct conntable *t, void (*fn)(void *ctx, uint64_t tw), void *ctx);

typedef void (*stuck_fn)(void *ctx, struct conn *c, int state, uint64_t age_ns);
void ct_each_stuck(struct conntable *t, uint64_t now, uint64_t min_ns, stuck_fn fn, void *ctx);

/* Durations and names used by the sinks. */
const char *role_name(int role);
const char *result_name(const struct conn *c, char *buf, int len);
const char *closer_name(int closer);
const char *tw_end_name(int end);

#endif /* __CONNTABLE_H */
