/* SPDX-License-Identifier: GPL-2.0 */
/*
 * resetstats.h - TCP resets counted by direction, reason and the kind of
 * socket they came from (ours or none of ours: a closed port, a TIME_WAIT
 * sock...), for the summary and the metrics. Pure: fed with EV_RST events.
 */
#ifndef __RESETSTATS_H
#define __RESETSTATS_H

#include <stdint.h>
#include <stdio.h>

#include <linux/types.h>

#include "rstreason.h"
#include "tcpphase.h"

/* reason slots: the kernel's values below RST_REASON_NAMES, then "unknown" */
#define RST_NREASONS (RST_REASON_NAMES + 1)
#define RST_NDIRS 3 /* 0 unused, RST_SENT, RST_RECEIVED */

struct rst_counts {
	uint64_t n[RST_NDIRS][RST_NREASONS];
	uint64_t sock[RSOCK_MAX][RST_NDIRS];
	uint64_t total;
};

struct json;

void rst_counts_add(struct rst_counts *rc, const struct event *e);
/* The reason name of slot r ("unknown" for none); buf: RST_REASON_STRLEN. */
const char *rst_slot_name(int r, char *buf, size_t len);
/* Text: "resets" lines for the summary (nothing when there were none). */
void rst_counts_print(const struct rst_counts *rc, FILE *f);
/* JSON: a "resets" member of the open object. */
void rst_counts_json(const struct rst_counts *rc, struct json *j);
/* Prometheus: tcpphase_resets_total{direction,reason} (and by socket kind). */
void rst_counts_prom(const struct rst_counts *rc, FILE *f);

#endif /* __RESETSTATS_H */
