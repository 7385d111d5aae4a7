// SPDX-License-Identifier: GPL-2.0
/*
 * listen_view.c - the listener view: rows, table, JSON and Prometheus
 * series (see listen_view.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "json.h"
#include "listen_view.h"

struct lv_entry *lv_get(struct listen_view *lv, uint32_t netns, uint16_t port, bool make)
{
	struct lv_entry *e;

	for (size_t i = 0; i < lv->n; i++)
		if (lv->e[i].netns == netns && lv->e[i].port == port)
			return &lv->e[i];
	if (!make)
		return NULL;
	if (lv->n == lv->cap) {
		size_t cap = lv->cap ? 2 * lv->cap : 16;
		void *p = realloc(lv->e, cap * sizeof(*lv->e));

		if (!p)
			return NULL;
		lv->e = p;
		lv->cap = cap;
	}
	e = &lv->e[lv->n++];
	memset(e, 0, sizeof(*e));
	e->netns = netns;
	e->port = port;
	return e;
}

int lv_set(struct listen_view *lv, uint32_t netns, uint16_t port, const struct listen_stats *s)
{
	struct lv_entry *e = lv_get(lv, netns, port, true);

	if (!e)
		return -ENOMEM;
	e->s = *s;
	return 0;
}

void lv_add_accept_wait(struct listen_view *lv, uint32_t netns, uint16_t port, int64_t ns)
{
	struct lv_entry *e = lv_get(lv, netns, port, true);

	if (!e || ns < 0)
		return;
	e->aw_n++;
	e->aw_sum_ns += ns;
	if ((uint64_t)ns > e->aw_max_ns)
		e->aw_max_ns = ns;
}

void lv_free(struct listen_view *lv)
{
	free(lv->e);
	memset(lv, 0, sizeof(*lv));
}

/* The smallest length bucket b holds. */
static int64_t lq_floor(int b)
{
	return b < LQ_LINEAR ? b : 1LL << (b - LQ_LINEAR + 5);
}

int64_t lq_pct(const __u64 *h, int pm)
{
	uint64_t total = 0, rank, seen = 0;

	for (int b = 0; b < LQ_BUCKETS; b++)
		total += h[b];
	if (!total)
		return -1;
	rank = (total * pm + 999) / 1000; /* nearest rank, 1-based */
	if (!rank)
		rank = 1;
	for (int b = 0; b < LQ_BUCKETS; b++) {
		seen += h[b];
		if (seen >= rank)
			return lq_floor(b);
	}
	return lq_floor(LQ_BUCKETS - 1);
}

static int by_netns_port(const void *a, const void *b)
{
	const struct lv_entry *x = a, *y = b;

	if (x->netns != y->netns)
		return x->netns < y->netns ? -1 : 1;
	return (int)x->port - (int)y->port;
}

/* "p50/p99/max" of a queue histogram, "-" when no length was seen. */
static const char *queue_stats(char *buf, size_t len, const __u64 *h, uint32_t max)
{
	if (lq_pct(h, 500) < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%lld/%lld/%u", (long long)lq_pct(h, 500),
			 (long long)lq_pct(h, 990), max);
	return buf;
}

/* "mean/max" accept wait in ms, "-" without any. */
static const char *wait_stats(char *buf, size_t len, const struct lv_entry *e)
{
	char mean[24], max[24];

	if (!e->aw_n) {
		snprintf(buf, len, "-");
		return buf;
	}
	snprintf(buf, len, "%s/%s", format_ms(mean, sizeof(mean), e->aw_sum_ns / e->aw_n / 1000),
		 format_ms(max, sizeof(max), e->aw_max_ns / 1000));
	return buf;
}

void lv_print(struct listen_view *lv, FILE *f)
{
	char addr[64], qs[48], qa[48], aw[48], owner[32];

	qsort(lv->e, lv->n, sizeof(*lv->e), by_netns_port);
	fprintf(f,
		"listeners:\n%-10s %-24s %-20s %7s %6s %6s %6s %6s %5s %7s %7s %6s %7s %-13s %-13s %s\n",
		"NETNS", "LADDR:PORT", "PID/COMM", "BACKLOG", "SYNS", "REQS", "DONE", "ACCEPT",
		"RTX", "OVF_SYN", "OVF_ACK", "SYNQ_D", "COOKIES", "Q@SYN", "Q@ACCEPT",
		"ACCEPT_WAIT_MS");
	for (size_t i = 0; i < lv->n; i++) {
		const struct lv_entry *e = &lv->e[i];
		const struct listen_stats *s = &e->s;

		if (e->pid)
			snprintf(owner, sizeof(owner), "%u/%s", e->pid, e->comm);
		else
			snprintf(owner, sizeof(owner), "-");
		fprintf(f,
			"%-10u %-24s %-20s %7u %6llu %6llu %6llu %6llu %5llu %7llu %7llu %6llu %7llu "
			"%-13s %-13s %s\n",
			e->netns, format_addr_port(addr, sizeof(addr), s->family, s->addr, e->port),
			owner, s->backlog, (unsigned long long)s->syns,
			(unsigned long long)s->requests, (unsigned long long)s->completed,
			(unsigned long long)s->accepts, (unsigned long long)s->synack_rtx,
			(unsigned long long)s->overflow_syn, (unsigned long long)s->overflow_ack,
			(unsigned long long)s->synq_drops, (unsigned long long)s->syncookies,
			queue_stats(qs, sizeof(qs), s->qsyn, s->qmax_syn),
			queue_stats(qa, sizeof(qa), s->qaccept, s->qmax_accept),
			wait_stats(aw, sizeof(aw), e));
	}
}

static void json_queue(struct json *j, const char *key, const __u64 *h, uint32_t max, uint64_t sum)
{
	uint64_t n = 0;

	for (int b = 0; b < LQ_BUCKETS; b++)
		n += h[b];
	json_open(j, key, '{');
	json_ku64(j, "count", n);
	json_ku64(j, "sum", sum);
	json_ks64(j, "p50", lq_pct(h, 500));
	json_ks64(j, "p99", lq_pct(h, 990));
	json_ku64(j, "max", max);
	json_close(j, '}');
}

void lv_print_json(struct listen_view *lv, FILE *f, uint64_t wall_ns)
{
	char buf[4096], addr[64], ts[48];
	struct strbuf b = { buf, sizeof(buf), 0 };
	struct json j;

	qsort(lv->e, lv->n, sizeof(*lv->e), by_netns_port);
	for (size_t i = 0; i < lv->n; i++) {
		const struct lv_entry *e = &lv->e[i];
		const struct listen_stats *s = &e->s;

		b.len = 0;
		json_init(&j, &b, f);
		json_open(&j, NULL, '{');
		json_kstr(&j, "type", "listener");
		json_kstr(&j, "time", format_rfc3339(ts, sizeof(ts), wall_ns));
		json_ku64(&j, "netns", e->netns);
		json_kstr(&j, "laddr", format_addr(addr, sizeof(addr), s->family, s->addr));
		json_ku64(&j, "lport", e->port);
		if (e->pid) {
			json_ku64(&j, "pid", e->pid);
			json_kstr(&j, "comm", e->comm);
		} else {
			json_knull(&j, "pid");
			json_knull(&j, "comm");
		}
		json_ku64(&j, "backlog", s->backlog);
		json_ku64(&j, "syns", s->syns);
		json_ku64(&j, "requests", s->requests);
		json_ku64(&j, "handshakes", s->completed);
		json_ku64(&j, "accepts", s->accepts);
		json_ku64(&j, "synack_retransmits", s->synack_rtx);
		json_ku64(&j, "overflows_syn", s->overflow_syn);
		json_ku64(&j, "overflows_ack", s->overflow_ack);
		json_ku64(&j, "syn_queue_drops", s->synq_drops);
		json_ku64(&j, "syncookies", s->syncookies);
		json_queue(&j, "queue_at_syn", s->qsyn, s->qmax_syn, s->qsum_syn);
		json_queue(&j, "queue_at_accept", s->qaccept, s->qmax_accept, s->qsum_accept);
		json_ku64(&j, "accept_waits", e->aw_n);
		if (e->aw_n) {
			json_kdouble(&j, "accept_wait_mean_ms",
				     e->aw_sum_ns / (double)e->aw_n / 1e6);
			json_kdouble(&j, "accept_wait_max_ms", e->aw_max_ns / 1e6);
		}
		json_close(&j, '}');
		json_end_line(&j);
	}
}

/* One port's figures, summed over network namespaces. */
struct lv_port {
	uint16_t port;
	bool other;
	struct listen_stats s;
};

static void lv_port_add(struct lv_port *p, const struct listen_stats *s)
{
	p->s.syns += s->syns;
	p->s.requests += s->requests;
	p->s.completed += s->completed;
	p->s.accepts += s->accepts;
	p->s.synack_rtx += s->synack_rtx;
	p->s.overflow_syn += s->overflow_syn;
	p->s.overflow_ack += s->overflow_ack;
	p->s.synq_drops += s->synq_drops;
	p->s.syncookies += s->syncookies;
	p->s.qsum_syn += s->qsum_syn;
	p->s.qsum_accept += s->qsum_accept;
	if (s->backlog > p->s.backlog)
		p->s.backlog = s->backlog;
	for (int b = 0; b < LQ_BUCKETS; b++) {
		p->s.qsyn[b] += s->qsyn[b];
		p->s.qaccept[b] += s->qaccept[b];
	}
}

static int by_syns_desc(const void *a, const void *b)
{
	const struct lv_port *x = a, *y = b;

	if (x->s.syns != y->s.syns)
		return x->s.syns > y->s.syns ? -1 : 1;
	return (int)x->port - (int)y->port;
}

/* The per-port rows in ps (at most lv->n + 1, "other" last); returns their number. */
static size_t lv_ports(const struct listen_view *lv, const uint16_t *ports, int n_ports,
		       struct lv_port *ps)
{
	struct lv_port other = { .other = true };
	size_t n = 0, named = 0;
	bool have_other = false;

	for (size_t i = 0; i < lv->n; i++) {
		const struct lv_entry *e = &lv->e[i];
		size_t k;

		for (k = 0; k < n && ps[k].port != e->port; k++)
			;
		if (k == n) {
			memset(&ps[n], 0, sizeof(ps[n]));
			ps[n++].port = e->port;
		}
		lv_port_add(&ps[k], &e->s);
	}
	qsort(ps, n, sizeof(*ps), by_syns_desc);
	for (size_t i = 0; i < n; i++) {
		bool keep = false;

		if (n_ports > 0) {
			for (int k = 0; k < n_ports; k++)
				keep |= ports[k] == ps[i].port;
		} else {
			keep = named < LV_TOP_PORTS;
		}
		if (keep) {
			ps[named++] = ps[i];
		} else {
			lv_port_add(&other, &ps[i].s);
			have_other = true;
		}
	}
	if (have_other)
		ps[named++] = other;
	return named;
}

static const char *port_label(char *buf, size_t len, const struct lv_port *p)
{
	if (p->other)
		snprintf(buf, len, "other");
	else
		snprintf(buf, len, "%u", p->port);
	return buf;
}

static void put_counter(FILE *f, const char *name, const char *help, const struct lv_port *ps,
			size_t n, size_t off)
{
	char lp[16];

	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s{lport=\"%s\"} %llu\n", name, port_label(lp, sizeof(lp), &ps[i]),
			*(const unsigned long long *)((const char *)&ps[i].s + off));
}

/* A Prometheus histogram of queue lengths: le at each bucket's top (0, 1, .., 31, 63, ..). */
static void put_queue(FILE *f, const struct lv_port *p, const char *at, const __u64 *h,
		      uint64_t sum)
{
	char lp[16];
	uint64_t cum = 0;

	port_label(lp, sizeof(lp), p);
	for (int b = 0; b < LQ_BUCKETS; b++) {
		cum += h[b];
		if (b == LQ_BUCKETS - 1)
			break;
		fprintf(f,
			"tcpphase_listen_queue_length_bucket{lport=\"%s\",at=\"%s\",le=\"%lld\"} %llu\n",
			lp, at, (long long)lq_floor(b + 1) - 1, (unsigned long long)cum);
	}
	fprintf(f, "tcpphase_listen_queue_length_bucket{lport=\"%s\",at=\"%s\",le=\"+Inf\"} %llu\n",
		lp, at, (unsigned long long)cum);
	fprintf(f, "tcpphase_listen_queue_length_sum{lport=\"%s\",at=\"%s\"} %llu\n", lp, at,
		(unsigned long long)sum);
	fprintf(f, "tcpphase_listen_queue_length_count{lport=\"%s\",at=\"%s\"} %llu\n", lp, at,
		(unsigned long long)cum);
}

#define LS_OFF(field) offsetof(struct listen_stats, field)

char *lv_metrics(const struct listen_view *lv, const uint16_t *ports, int n_ports)
{
	struct lv_port *ps = calloc(lv->n + 1, sizeof(*ps));
	char *text = NULL, lp[16];
	size_t len = 0, n;
	FILE *f;

	if (!ps)
		return NULL;
	f = open_memstream(&text, &len);
	if (!f) {
		free(ps);
		return NULL;
	}
	n = lv_ports(lv, ports, n_ports, ps);
	put_counter(f, "tcpphase_listen_syns_total", "SYNs that reached a listener", ps, n,
		    LS_OFF(syns));
	put_counter(f, "tcpphase_listen_requests_total",
		    "Request socks a listener made (SYN-ACK sent)", ps, n, LS_OFF(requests));
	put_counter(f, "tcpphase_listen_handshakes_total",
		    "Passive handshakes completed (child queued)", ps, n, LS_OFF(completed));
	put_counter(f, "tcpphase_listen_accepts_total",
		    "Children accept()ed (with accept() traced)", ps, n, LS_OFF(accepts));
	put_counter(f, "tcpphase_listen_synack_retransmits_total", "SYN-ACKs retransmitted", ps, n,
		    LS_OFF(synack_rtx));
	fprintf(f, "# HELP tcpphase_listen_overflows_total Handshake packets dropped because the "
		   "accept queue was full (the kernel's ListenOverflows), by packet\n"
		   "# TYPE tcpphase_listen_overflows_total counter\n");
	for (size_t i = 0; i < n; i++) {
		port_label(lp, sizeof(lp), &ps[i]);
		fprintf(f, "tcpphase_listen_overflows_total{lport=\"%s\",packet=\"syn\"} %llu\n",
			lp, (unsigned long long)ps[i].s.overflow_syn);
		fprintf(f, "tcpphase_listen_overflows_total{lport=\"%s\",packet=\"ack\"} %llu\n",
			lp, (unsigned long long)ps[i].s.overflow_ack);
	}
	put_counter(f, "tcpphase_listen_syn_queue_drops_total",
		    "SYNs dropped because the SYN queue was full (no syncookies)", ps, n,
		    LS_OFF(synq_drops));
	put_counter(f, "tcpphase_listen_syncookies_total",
		    "SYNs answered with a syncookie (SYN queue full)", ps, n, LS_OFF(syncookies));
	fprintf(f, "# HELP tcpphase_listen_backlog Accept queue limit (listen() backlog)\n"
		   "# TYPE tcpphase_listen_backlog gauge\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "tcpphase_listen_backlog{lport=\"%s\"} %u\n",
			port_label(lp, sizeof(lp), &ps[i]), ps[i].s.backlog);
	fprintf(f, "# HELP tcpphase_listen_queue_length Accept queue length at each SYN and "
		   "after each accept()\n# TYPE tcpphase_listen_queue_length histogram\n");
	for (size_t i = 0; i < n; i++) {
		put_queue(f, &ps[i], "syn", ps[i].s.qsyn, ps[i].s.qsum_syn);
		put_queue(f, &ps[i], "accept", ps[i].s.qaccept, ps[i].s.qsum_accept);
	}
	free(ps);
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}
