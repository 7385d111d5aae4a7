// SPDX-License-Identifier: GPL-2.0
/*
 * metrics.c - the Prometheus exporter (see metrics.h).
 *
 * The event thread bumps fixed-size counters under a mutex (metrics_add);
 * libmicrohttpd's own polling thread serves GET /metrics by copying them
 * under that mutex and formatting the copy outside it. The server polls
 * non-blocking sockets with a connection limit (total and per IP), a small
 * per-connection memory pool and an idle timeout, so a slow, silent or
 * malformed client costs one slot for a few seconds and blocks nothing.
 *
 * The phases timed and the result classes are those of summary.c
 * (summary_phase_ns, summary_result_of), so both outputs agree.
 *
 * With a workload label (metrics_by_workload) the counters are kept per
 * slot: one per named workload and the last for "other". Which workloads
 * hold a slot is decided on the event thread as endpoints come (wl_rank),
 * under the same mutex, so a scrape sees slots and counts that agree.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroups.h"
#include "resetstats.h"
#include "format.h"
#include "gauges.h"
#include "metrics.h"
#include "opts.h"
#include "summary.h"
#include "u64map.h"

#define CONN_LIMIT 16 /* connections served at once */
#define CONN_PER_IP 8
#define CONN_TIMEOUT_S 5 /* idle connections are closed after this */
#define CONN_MEMORY 16384 /* per-connection pool: request line and headers */

/*
 * Histogram buckets (upper bounds), from loopback handshakes (~50 us) to
 * long CLOSE_WAITs. 65 s splits TIME_WAITs that ended normally (60 s plus up
 * to ~2 s of timer slack) from longer ones.
 */
#define NB 21
static const uint64_t le_ns[NB] = {
	100000ULL,	 250000ULL,	 500000ULL,	 1000000ULL,	 2500000ULL,
	5000000ULL,	 10000000ULL,	 25000000ULL,	 50000000ULL,	 100000000ULL,
	250000000ULL,	 500000000ULL,	 1000000000ULL,	 2500000000ULL,	 5000000000ULL,
	10000000000ULL,	 30000000000ULL, 60000000000ULL, 65000000000ULL, 120000000000ULL,
	300000000000ULL,
};
static const char *const le_str[NB] = {
	"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
	"0.025",  "0.05",    "0.1",    "0.25",	"0.5",	  "1",	   "2.5",
	"5",	  "10",	     "30",     "60",	"65",	  "120",   "300",
};

/* Label values, indexed like the counters. */
enum { MR_ACTIVE, MR_PASSIVE, MR_UNKNOWN, MR_MAX };
static const char *const role_vals[MR_MAX] = { "active", "passive", "unknown" };
#define N_TWE (TWE_IN_PROGRESS - TWE_EXPIRED + 1) /* expired .. in_progress */
static const char *const phase_vals[] = { "fin_wait1", "fin_wait2", "close_wait", "last_ack",
					  "closing" };

/* At most MAX_PORTS labelled ports, plus "other". */
#define NLP (MAX_PORTS + 1)

struct mhist {
	uint64_t b[NB + 1]; /* per bucket, not cumulative; b[NB] is +Inf */
	uint64_t count;
	uint64_t sum_s; /* the sum as whole seconds + ns, exact and never overflowing */
	uint32_t sum_ns;
};

/* The series of one workload label value (or of all, without that label). */
struct mcounts {
	struct mhist h[SP_MAX][NLP];
	uint64_t conns[NLP][MR_MAX][SR_MAX];
	uint64_t tw_end[NLP][N_TWE];
};

struct mslot {
	const char *label; /* the workload, escaped for a label value; NULL: unused */
	struct mcounts c;
};

/* Everything metrics_add counts; copied whole to render. */
struct mstate {
	struct metrics_extra x;
	struct rst_counts resets;
	int n_slots; /* 1 without a workload label, else top + 1: the last is "other" */
	struct mslot slot[];
};

/*
 * A workload as --metrics-by ranks it (event thread only): endpoints seen
 * since start, and the slot that names it, if any.
 */
struct wl {
	char *label; /* escaped */
	uint64_t endpoints;
	int slot; /* -1: counted under "other" */
};

#define WL_TRACKED 1024 /* workloads ranked; further ones only ever count as "other" */
#define WL_IDS 65536 /* cgroup ids remembered with their workload */

struct metrics {
	pthread_mutex_t lock;
	struct mstate *st; /* under lock */
	size_t st_size;
	uint16_t ports[MAX_PORTS];
	int n_ports; /* 0: no lport label */
	uint16_t port;
	struct MHD_Daemon *d;
	char *listeners; /* the listener series, rendered by their owner; under lock */
	/* --metrics-by workload: top named slots, or 0 for no workload label */
	int top;
	struct cgroups *cg;
	struct u64map *wl_of_id; /* cgroup id -> struct wl */
	struct wl *wls[WL_TRACKED];
	int n_wls;
	struct wl *named[METRICS_TOP_MAX]; /* by slot */
};

uint16_t metrics_port(const struct metrics *m)
{
	return m->port;
}

/* --- counting (event thread) --- */

static int lport_index(const struct metrics *m, uint16_t lport)
{
	for (int i = 0; i < m->n_ports; i++)
		if (m->ports[i] == lport)
			return i;
	return m->n_ports;
}

/* "other" (the last slot), or the only one without a workload label. */
static int other_slot(const struct metrics *m)
{
	return m->st->n_slots - 1;
}

/* v with \, " and newline escaped as a label value wants, malloc'ed. */
static char *label_escape(const char *v)
{
	char *out = malloc(2 * strlen(v) + 1), *o = out;

	if (!out)
		return NULL;
	for (; *v; v++) {
		if (*v == '\\' || *v == '"' || *v == '\n')
			*o++ = '\\';
		*o++ = *v == '\n' ? 'n' : *v;
	}
	*o = 0;
	return out;
}

/*
 * The ranked workload of label (escaped), made if there is room; NULL: none
 * (counted as "other"). Takes label, which is freed if not kept.
 */
static struct wl *wl_named(struct metrics *m, char *label)
{
	struct wl *w = NULL;

	for (int i = 0; i < m->n_wls && !w; i++)
		if (!strcmp(m->wls[i]->label, label))
			w = m->wls[i];
	/* a workload called "other" would make a second "other" series */
	if (!w && m->n_wls < WL_TRACKED && strcmp(label, "other"))
		w = calloc(1, sizeof(*w));
	if (!w || w->label) {
		free(label);
		return w;
	}
	w->label = label;
	w->slot = -1;
	m->wls[m->n_wls++] = w;
	return w;
}

/* The workload of cgroup id ("unknown" if it has none); cached by id. */
static struct wl *wl_of(struct metrics *m, uint64_t id)
{
	struct wl *w = id ? u64map_get(m->wl_of_id, id) : NULL;
	const char *name;
	char *esc;

	if (w)
		return w;
	name = cg_workload(m->cg, id);
	/* names are compared escaped: what the series show */
	esc = label_escape(name ? name : "unknown");
	w = esc ? wl_named(m, esc) : NULL;
	if (w && id)
		u64map_put(m->wl_of_id, id, w); /* full: looked up by name again */
	return w;
}

/* Add s seconds and ns (< 1 s) to h's sum. */
static void mhist_sum_add(struct mhist *h, uint64_t s, uint32_t ns)
{
	h->sum_s += s;
	h->sum_ns += ns;
	if (h->sum_ns >= 1000000000) {
		h->sum_ns -= 1000000000;
		h->sum_s++;
	}
}

static void mhist_merge(struct mhist *to, const struct mhist *from)
{
	for (int i = 0; i <= NB; i++)
		to->b[i] += from->b[i];
	to->count += from->count;
	mhist_sum_add(to, from->sum_s, from->sum_ns);
}

/* Add every series of from into to. */
static void mcounts_merge(struct mcounts *to, const struct mcounts *from)
{
	for (int p = 0; p < SP_MAX; p++)
		for (int lp = 0; lp < NLP; lp++)
			mhist_merge(&to->h[p][lp], &from->h[p][lp]);
	for (int lp = 0; lp < NLP; lp++) {
		for (int r = 0; r < MR_MAX; r++)
			for (int res = 0; res < SR_MAX; res++)
				to->conns[lp][r][res] += from->conns[lp][r][res];
		for (int e = 0; e < N_TWE; e++)
			to->tw_end[lp][e] += from->tw_end[lp][e];
	}
}

/*
 * One more endpoint of w (under lock): it takes a free slot, or the slot of
 * the named workload with the fewest endpoints once it has seen more than
 * twice as many (so two close ones do not swap back and forth). The
 * replaced one's series are added into "other" and the slot starts from
 * zero: every counter only grows, and the labelled series always add up to
 * the unlabelled totals.
 */
static void wl_rank(struct metrics *m, struct wl *w)
{
	int weakest = -1;

	w->endpoints++;
	if (w->slot >= 0)
		return;
	for (int i = 0; i < m->top; i++) {
		if (!m->named[i]) {
			weakest = i;
			break;
		}
		if (weakest < 0 || m->named[i]->endpoints < m->named[weakest]->endpoints)
			weakest = i;
	}
	if (weakest < 0)
		return;
	if (m->named[weakest]) {
		struct mslot *sl = &m->st->slot[weakest];

		if (w->endpoints <= 2 * m->named[weakest]->endpoints)
			return;
		mcounts_merge(&m->st->slot[other_slot(m)].c, &sl->c);
		memset(&sl->c, 0, sizeof(sl->c));
		m->named[weakest]->slot = -1;
	}
	m->named[weakest] = w;
	m->st->slot[weakest].label = w->label;
	w->slot = weakest;
}

static int bucket_of(uint64_t ns)
{
	int i = 0;

	while (i < NB && ns > le_ns[i])
		i++;
	return i;
}

void metrics_add(struct metrics *m, const struct conn *c)
{
	metrics_add_parts(m, c, ~0U);
}

void metrics_add_parts(struct metrics *m, const struct conn *c, unsigned int parts)
{
	int64_t ns[SP_MAX];
	int bkt[SP_MAX], lp, role, res, te, slot;
	struct mcounts *mc;
	struct wl *w = m->top ? wl_of(m, c->cgroup) : NULL;

	/* everything but the increments is worked out before taking the lock */
	for (int p = 0; p < SP_MAX; p++) {
		ns[p] = summary_part_ns(c, p, parts);
		bkt[p] = ns[p] >= 0 ? bucket_of(ns[p]) : 0;
	}
	lp = lport_index(m, c->lport);
	role = c->role == ROLE_ACTIVE  ? MR_ACTIVE :
	       c->role == ROLE_PASSIVE ? MR_PASSIVE :
					 MR_UNKNOWN;
	res = summary_result_of(c);
	te = c->tw_end >= TWE_EXPIRED && c->tw_end <= TWE_IN_PROGRESS ? c->tw_end : TWE_NONE;

	pthread_mutex_lock(&m->lock);
	if (w && (parts & CT_PART(CT_PART_RESULT)))
		wl_rank(m, w);
	slot = w && w->slot >= 0 ? w->slot : other_slot(m);
	mc = &m->st->slot[slot].c;
	for (int p = 0; p < SP_MAX; p++) {
		struct mhist *h = &mc->h[p][lp];

		if (ns[p] < 0)
			continue;
		h->b[bkt[p]]++;
		h->count++;
		mhist_sum_add(h, ns[p] / 1000000000, ns[p] % 1000000000);
	}
	if (parts & CT_PART(CT_PART_RESULT))
		mc->conns[lp][role][res]++;
	if (parts & CT_PART(CT_PART_TW_END))
		mc->tw_end[lp][te - TWE_EXPIRED]++;
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_extra(struct metrics *m, const struct metrics_extra *x)
{
	pthread_mutex_lock(&m->lock);
	m->st->x = *x;
	pthread_mutex_unlock(&m->lock);
}

/* --- the exposition text --- */

/*
 * 'first' (a label pair or NULL), the workload's (wl: an escaped value, NULL
 * for none) and lport's, comma-separated, into buf.
 */
static const char *labels(char *buf, size_t len, const struct metrics *m, const char *first,
			  const char *wl, int lp)
{
	int n = snprintf(buf, len, "%s", first ? first : "");

	if (wl && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - n, "%sworkload=\"%s\"", n ? "," : "", wl);
	if (n < 0 || (size_t)n >= len)
		return buf; /* cut: cannot happen with LABELS_LEN */
	if (m->n_ports) {
		char port[8];

		if (lp < m->n_ports)
			snprintf(port, sizeof(port), "%u", m->ports[lp]);
		snprintf(buf + n, len - n, "%slport=\"%s\"", n ? "," : "",
			 lp < m->n_ports ? port : "other");
	}
	return buf;
}

static int n_lports(const struct metrics *m)
{
	return m->n_ports ? m->n_ports + 1 : 1;
}

static void put_meta(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Room for every label of a series: a workload's escaped name is at most 2 * 255 bytes. */
#define LABELS_LEN 1024

/* The workload label of slot i: NULL without one, "" if the slot is unused. */
static const char *slot_label(const struct mstate *st, int i)
{
	if (st->n_slots == 1)
		return NULL;
	if (i == st->n_slots - 1)
		return "other";
	return st->slot[i].label ? st->slot[i].label : "";
}

/* The series of one workload slot (wl: its label or NULL), one per lport. */
static void put_hist_slot(FILE *f, const struct metrics *m, const char *name, const char *first,
			  const char *wl, const struct mhist *h)
{
	char lab[LABELS_LEN];

	for (int lp = 0; lp < n_lports(m); lp++) {
		uint64_t cum = 0;

		labels(lab, sizeof(lab), m, first, wl, lp);
		for (int i = 0; i <= NB; i++) {
			cum += h[lp].b[i];
			fprintf(f, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, lab, lab[0] ? "," : "",
				i < NB ? le_str[i] : "+Inf", (unsigned long long)cum);
		}
		fprintf(f, "%s_sum%s%s%s %llu.%09u\n", name, lab[0] ? "{" : "", lab,
			lab[0] ? "}" : "", (unsigned long long)h[lp].sum_s, h[lp].sum_ns);
		fprintf(f, "%s_count%s%s%s %llu\n", name, lab[0] ? "{" : "", lab, lab[0] ? "}" : "",
			(unsigned long long)h[lp].count);
	}
}

/*
 * One histogram series per workload slot in use and lport; 'first' labels
 * each, as in role="active"; p is the phase.
 */
static void put_hist(FILE *f, const struct metrics *m, const struct mstate *st, const char *name,
		     const char *first, int p)
{
	for (int i = 0; i < st->n_slots; i++) {
		const char *wl = slot_label(st, i);

		if (!wl || wl[0])
			put_hist_slot(f, m, name, first, wl, st->slot[i].c.h[p]);
	}
}

static void put_value(FILE *f, const char *name, const char *lab, uint64_t v)
{
	if (lab && lab[0])
		fprintf(f, "%s{%s} %llu\n", name, lab, (unsigned long long)v);
	else
		fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

/* A metric with one series and no labels: its HELP, TYPE and value. */
static void put_single(FILE *f, const char *name, const char *type, uint64_t v, const char *help)
{
	put_meta(f, name, type, help);
	put_value(f, name, NULL, v);
}

/* The state gauges: endpoints in each TCP state now (as ss -tan would count them). */
static void put_endpoints(FILE *f, const int64_t *n)
{
	static const int states[] = { GAUGE_STATES };
	char lab[64];

	put_meta(f, "tcpphase_endpoints", "gauge",
		 "TCP endpoints in each state now (request socks as SYN_RECV, tw socks as "
		 "TIME_WAIT or an orphan's FIN_WAIT2), those open at start included.");
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		snprintf(lab, sizeof(lab), "state=\"%s\"", state_name(states[i]));
		put_value(f, "tcpphase_endpoints", lab, n[states[i]] < 0 ? 0 : n[states[i]]);
	}
}

static void render(FILE *f, const struct metrics *m, const struct mstate *st)
{
	char first[64], lab[LABELS_LEN];
	const struct metrics_extra *x = &st->x;

	put_meta(f, "tcpphase_handshake_seconds", "histogram",
		 "Successful TCP handshakes: connect() to ESTABLISHED (active), SYN arrival to "
		 "ESTABLISHED (passive).");
	put_hist(f, m, st, "tcpphase_handshake_seconds", "role=\"active\"", SP_HS_ACTIVE);
	put_hist(f, m, st, "tcpphase_handshake_seconds", "role=\"passive\"", SP_HS_PASSIVE);

	put_meta(f, "tcpphase_accept_wait_seconds", "histogram",
		 "Passive connections: ESTABLISHED to the accept() that took them.");
	put_hist(f, m, st, "tcpphase_accept_wait_seconds", NULL, SP_ACCEPT_WAIT);

	put_meta(f, "tcpphase_phase_seconds", "histogram", "Time spent in each half-close state.");
	for (int p = SP_FIN_WAIT1; p <= SP_CLOSING; p++) {
		snprintf(first, sizeof(first), "phase=\"%s\"", phase_vals[p - SP_FIN_WAIT1]);
		put_hist(f, m, st, "tcpphase_phase_seconds", first, p);
	}

	put_meta(f, "tcpphase_time_wait_seconds", "histogram",
		 "Time in TIME_WAIT, to its end as it happened (expiry, reuse, recycling, kill).");
	put_hist(f, m, st, "tcpphase_time_wait_seconds", NULL, SP_TIME_WAIT);

	put_meta(f, "tcpphase_connections_total", "counter",
		 "Finished TCP endpoints by role and handshake result (none: handshake not seen).");
	for (int i = 0; i < st->n_slots; i++) {
		const char *wl = slot_label(st, i);
		const struct mcounts *mc = &st->slot[i].c;

		if (wl && !wl[0])
			continue;
		for (int lp = 0; lp < n_lports(m); lp++)
			for (int r = 0; r < MR_MAX; r++)
				for (int res = 0; res < SR_MAX; res++) {
					snprintf(first, sizeof(first), "role=\"%s\",result=\"%s\"",
						 role_vals[r], summary_result_name(res));
					put_value(f, "tcpphase_connections_total",
						  labels(lab, sizeof(lab), m, first, wl, lp),
						  mc->conns[lp][r][res]);
				}
	}

	put_meta(f, "tcpphase_time_wait_end_total", "counter",
		 "Finished TCP endpoints by how their TIME_WAIT ended (none: closed without one).");
	for (int i = 0; i < st->n_slots; i++) {
		const char *wl = slot_label(st, i);

		if (wl && !wl[0])
			continue;
		for (int lp = 0; lp < n_lports(m); lp++)
			for (int e = 0; e < N_TWE; e++) {
				snprintf(first, sizeof(first), "end=\"%s\"",
					 tw_end_name(e + TWE_EXPIRED));
				put_value(f, "tcpphase_time_wait_end_total",
					  labels(lab, sizeof(lab), m, first, wl, lp),
					  st->slot[i].c.tw_end[lp][e]);
			}
	}

	rst_counts_prom(&st->resets, f);

	put_meta(f, "tcpphase_events_total", "counter", "Kernel events read from the ring buffer.");
	put_value(f, "tcpphase_events_total", NULL, x->events);
	put_meta(f, "tcpphase_lost_events_total", "counter",
		 "Events lost: ring buffer full, recursion misses no program recovered, "
		 "endpoints not tracked because the table was full.");
	put_value(f, "tcpphase_lost_events_total", "reason=\"ringbuf\"", x->lost_ringbuf);
	put_value(f, "tcpphase_lost_events_total", "reason=\"recursion\"", x->lost_recursion);
	put_value(f, "tcpphase_lost_events_total", "reason=\"table_full\"", x->table_full);
	put_single(f, "tcpphase_rescued_events_total", "counter", x->rescued,
		   "Recursion misses recovered by the rescue programs.");
	put_single(f, "tcpphase_partial_records_total", "counter", x->partial,
		   "Records with a missed transition, or cut short when tracing stopped.");

	put_single(f, "tcpphase_kernel_tw_total", "counter", x->k_tw,
		   "Kernel TcpExt TW: tw socks scheduled through TIME_WAIT proper.");
	put_single(f, "tcpphase_kernel_tw_killed_total", "counter", x->k_tw_killed,
		   "Kernel TcpExt TWKilled: tw socks scheduled through the short FIN_WAIT2 path.");
	put_single(f, "tcpphase_kernel_tw_recycled_total", "counter", x->k_tw_recycled,
		   "Kernel TcpExt TWRecycled: connect() reused a TIME_WAIT tuple.");
	put_single(
		f, "tcpphase_kernel_tw_overflow_total", "counter", x->k_tw_overflow,
		"Kernel TcpExt TCPTimeWaitOverflow: tw socks not allocated (tcp_max_tw_buckets).");
	put_single(f, "tcpphase_kernel_tw_live", "gauge", x->k_tw_live,
		   "Kernel /proc/net/sockstat tw: TIME_WAIT socks alive now.");
	if (x->have_endpoints)
		put_endpoints(f, x->endpoints);
}

void metrics_add_reset(struct metrics *m, const struct event *e)
{
	pthread_mutex_lock(&m->lock);
	rst_counts_add(&m->st->resets, e);
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_listeners(struct metrics *m, char *text)
{
	char *old;

	pthread_mutex_lock(&m->lock);
	old = m->listeners;
	m->listeners = text;
	pthread_mutex_unlock(&m->lock);
	free(old);
}

char *metrics_render(struct metrics *m)
{
	struct mstate *st;
	char *buf = NULL, *listeners = NULL;
	size_t len = 0;
	FILE *f;

	pthread_mutex_lock(&m->lock);
	st = malloc(m->st_size);
	if (st)
		memcpy(st, m->st, m->st_size);
	if (st && m->listeners)
		listeners = strdup(m->listeners);
	pthread_mutex_unlock(&m->lock);
	if (!st)
		return NULL;

	f = open_memstream(&buf, &len);
	if (f) {
		render(f, m, st);
		if (listeners)
			fputs(listeners, f);
		if (fclose(f)) {
			free(buf);
			buf = NULL;
		}
	}
	free(st);
	free(listeners);
	return buf;
}

/* --- HTTP --- */

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned int status,
				  const char *text)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Called by libmicrohttpd's thread for each request, answered on the first call. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct metrics *m = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *body;

	/* HEAD is GET without the body, which libmicrohttpd leaves out */
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (strcmp(url, "/metrics"))
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
	body = metrics_render(m);
	if (!body)
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/*
 * Split "HOST:PORT", ":PORT" or "[ADDR]:PORT": host into buf ("" for every
 * address) and the port; 0 or -1 with the reason in err.
 */
static int split_addr(const char *addr, char *host, size_t hostlen, uint16_t *port, char *err,
		      size_t errlen)
{
	const char *h = addr, *colon;
	unsigned long long v;
	size_t n;
	char perr[96];

	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');

		if (!end || end[1] != ':') {
			snprintf(err, errlen, "metrics address '%s': expected [ADDR]:PORT", addr);
			return -1;
		}
		h = addr + 1;
		n = end - h;
		colon = end + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon) {
			snprintf(err, errlen, "metrics address '%s': expected HOST:PORT or :PORT",
				 addr);
			return -1;
		}
		n = colon - addr;
		if (memchr(addr, ':', n)) {
			snprintf(err, errlen,
				 "metrics address '%s': put IPv6 addresses in brackets", addr);
			return -1;
		}
	}
	if (n >= hostlen) {
		snprintf(err, errlen, "metrics address '%s': host too long", addr);
		return -1;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	if (parse_uint(colon + 1, 0, 65535, &v, perr, sizeof(perr))) {
		snprintf(err, errlen, "metrics address '%s': bad port '%s'", addr, colon + 1);
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

/*
 * A bound, listening, non-blocking socket for addr, its port in *bound and
 * whether it is IPv6 in *v6; -1 with the reason in err.
 */
static int listen_on(const char *addr, uint16_t *bound, bool *v6, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	char host[256];
	uint16_t port;
	int fd, one = 1, zero = 0;

	if (split_addr(addr, host, sizeof(host), &port, err, errlen))
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (!host[0]) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		/* every address: dual-stack IPv6, or IPv4 where IPv6 is off */
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		s6->sin6_port = htons(port);
		sslen = sizeof(*s6);
		fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 && errno == EAFNOSUPPORT) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			memset(&ss, 0, sizeof(ss));
			s4->sin_family = AF_INET;
			s4->sin_addr.s_addr = htonl(INADDR_ANY);
			s4->sin_port = htons(port);
			sslen = sizeof(*s4);
			fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		} else if (fd >= 0) {
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		}
	} else {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
		int rc = getaddrinfo(host, NULL, &hints, &ai);

		if (rc) {
			snprintf(err, errlen, "metrics address '%s': %s", addr, gai_strerror(rc));
			return -1;
		}
		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		sslen = ai->ai_addrlen;
		freeaddrinfo(ai);
		if (ss.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		else
			((struct sockaddr_in *)&ss)->sin_port = htons(port);
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd < 0) {
		snprintf(err, errlen, "metrics: socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sslen) || listen(fd, 64)) {
		snprintf(err, errlen, "metrics: cannot listen on %s: %s", addr, strerror(errno));
		close(fd);
		return -1;
	}
	sslen = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen)) {
		snprintf(err, errlen, "metrics: getsockname: %s", strerror(errno));
		close(fd);
		return -1;
	}
	*v6 = ss.ss_family == AF_INET6;
	*bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
						  ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

struct metrics *metrics_start(const char *addr, const uint16_t *label_ports, int n_label_ports,
			      char *err, size_t errlen)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
	struct metrics *m;
	struct stat st;
	bool v6;
	int fd;

	if (!addr || !addr[0]) {
		snprintf(err, errlen, "metrics: no address");
		return NULL;
	}
	if (n_label_ports < 0 || n_label_ports > MAX_PORTS || (n_label_ports && !label_ports)) {
		snprintf(err, errlen, "metrics: at most %d ports get an lport label", MAX_PORTS);
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (m) {
		m->st_size = sizeof(*m->st) + sizeof(m->st->slot[0]);
		m->st = calloc(1, m->st_size);
	}
	if (!m || !m->st) {
		free(m);
		snprintf(err, errlen, "metrics: out of memory");
		return NULL;
	}
	m->st->n_slots = 1;
	/* a port given twice would make two series with the same labels */
	for (int i = 0; i < n_label_ports; i++)
		if (lport_index(m, label_ports[i]) == m->n_ports)
			m->ports[m->n_ports++] = label_ports[i];
	pthread_mutex_init(&m->lock, NULL);

	fd = listen_on(addr, &m->port, &v6, err, errlen);
	if (fd < 0)
		goto fail;
	if (v6)
		flags |= MHD_USE_IPv6;
	if (fstat(fd, &st))
		memset(&st, 0, sizeof(st));
	m->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, m, MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONN_LIMIT,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)CONN_PER_IP,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONN_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
				MHD_OPTION_END);
	if (!m->d) {
		struct stat now;

		/* some libmicrohttpd versions close a given socket on failure, some not */
		if (st.st_ino && !fstat(fd, &now) && now.st_ino == st.st_ino &&
		    now.st_dev == st.st_dev)
			close(fd);
		snprintf(err, errlen, "metrics: libmicrohttpd could not serve on %s", addr);
		goto fail;
	}
	return m;
fail:
	pthread_mutex_destroy(&m->lock);
	free(m->st);
	free(m);
	return NULL;
}

int metrics_by_workload(struct metrics *m, struct cgroups *cg, int top, char *err, size_t errlen)
{
	size_t size = sizeof(*m->st) + (top + 1) * sizeof(m->st->slot[0]);
	struct mstate *st;

	if (top < 1 || top > METRICS_TOP_MAX || m->top) {
		snprintf(err, errlen, "metrics: 1 to %d workloads get a label of their own",
			 METRICS_TOP_MAX);
		return -1;
	}
	st = calloc(1, size);
	m->wl_of_id = u64map_new(WL_IDS);
	if (!st || !m->wl_of_id) {
		free(st);
		u64map_free(m->wl_of_id);
		m->wl_of_id = NULL;
		snprintf(err, errlen, "metrics: out of memory");
		return -1;
	}
	st->n_slots = top + 1;
	pthread_mutex_lock(&m->lock);
	/* before any record: only the caller-owned counters are kept */
	st->x = m->st->x;
	st->resets = m->st->resets;
	free(m->st);
	m->st = st;
	m->st_size = size;
	m->top = top;
	m->cg = cg;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	if (m->d)
		MHD_stop_daemon(m->d);
	pthread_mutex_destroy(&m->lock);
	free(m->listeners);
	for (int i = 0; i < m->n_wls; i++) {
		free(m->wls[i]->label);
		free(m->wls[i]);
	}
	u64map_free(m->wl_of_id);
	free(m->st);
	free(m);
}
