/* SPDX-License-Identifier: GPL-2.0 */
/*
 * listen_view.h - the listener view (--listeners): one row per listening
 * port of a network namespace, from the kernel's listen_stats map (read by
 * listenmap.c) and the accept waits of the records; printed as a table or
 * JSON, and exported as Prometheus series with a bounded lport label.
 * Pure: no libbpf, unit-tested.
 */
#ifndef __LISTEN_VIEW_H
#define __LISTEN_VIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/types.h>

#include "tcpphase.h"

/* Listeners the Prometheus series name by port when no -L port is given. */
#define LV_TOP_PORTS 10

struct lv_entry {
	uint32_t netns;
	uint16_t port;
	struct listen_stats s; /* as last read: counts since tracing began */
	uint32_t pid; /* the listener's owner, 0 if not known */
	char comm[TASK_COMM_LEN];
	uint64_t owner_inode; /* the inode pid/comm were looked up for */
	uint64_t aw_n, aw_sum_ns, aw_max_ns; /* accept waits of its endpoints */
};

struct listen_view {
	struct lv_entry *e;
	size_t n, cap;
};

/* The entry of (netns, port), made when make is set; NULL if none or no memory. */
struct lv_entry *lv_get(struct listen_view *lv, uint32_t netns, uint16_t port, bool make);
/* Replace what the kernel counted for (netns, port); 0 or -ENOMEM. */
int lv_set(struct listen_view *lv, uint32_t netns, uint16_t port, const struct listen_stats *s);
/* One endpoint accepted from the listener on (netns, port) waited ns in its queue. */
void lv_add_accept_wait(struct listen_view *lv, uint32_t netns, uint16_t port, int64_t ns);
void lv_free(struct listen_view *lv);

/* Nearest-rank percentile (per mille pm) of a queue length histogram; -1 if empty. */
int64_t lq_pct(const __u64 *h, int pm);

/* The table, one line per listener, sorted by netns then port. */
void lv_print(struct listen_view *lv, FILE *f);
/* One JSON object per listener ("type":"listener"), wall_ns its time. */
void lv_print_json(struct listen_view *lv, FILE *f, uint64_t wall_ns);
/*
 * The tcpphase_listen_* series, malloc'ed (NULL if no memory): summed over
 * network namespaces per port; lport is one of ports[] when n_ports > 0,
 * else the top LV_TOP_PORTS ports by SYNs; every other port is "other".
 */
char *lv_metrics(const struct listen_view *lv, const uint16_t *ports, int n_ports);

#endif /* __LISTEN_VIEW_H */
