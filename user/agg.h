/* SPDX-License-Identifier: GPL-2.0 */
/*
 * agg.h - turn an aggregated socket record (EV_AGG) back into the events it
 * stands for, so that the connection table, recordings and replays see
 * the same stream whether or not the kernel side aggregated.
 */
#ifndef __AGG_H
#define __AGG_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/types.h>

#include "tcpphase.h"

/* Request start, the steps, an accept() and a tw arming: at most this many. */
#define AGG_MAX_EVENTS (AGG_STEPS + 3)

/*
 * Expand a into out (room for AGG_MAX_EVENTS), in time order; returns how
 * many. A record that cannot be right (no steps, too many) gives 0.
 */
int agg_expand(const struct agg_event *a, struct event *out);

#endif /* __AGG_H */
