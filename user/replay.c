// SPDX-License-Identifier: GPL-2.0
/*
 * replay.c - -r: a recording fed through the same pipeline and sinks as
 * live tracing, with no BPF at all. The table is ticked as the live loop
 * ticked it, every poll interval of event time, so that a replay writes
 * what the live run wrote.
 */
#include <errno.h>
#include <string.h>

#include "record.h"
#include "session.h"

int replay_run(struct session *s)
{
	struct pipeline *pl = s->pl;
	struct out *out = s->out;
	struct rec_header h;
	struct event e;
	char err[256];
	uint64_t last_tick = 0, last_ts = 0;
	struct replay *r = replay_open(s->opts->replay_path, &h, err, sizeof(err));
	int ret;

	if (!r)
		return log_err(s->log, 1, "%s", err);
	out->wall_offset_ns = h.wall_offset_ns;
	pl_start(pl, h.start_ns);
	while ((ret = replay_next(r, &e, err, sizeof(err))) == 1 && !*s->stop) {
		if (e.type == EV_END) {
			pl_finish(pl, e.ts_ns);
			last_ts = 0;
			break;
		}
		pl_replayed(pl, &e);
		last_ts = e.ts_ns;
		/* as live does: tick and write out once per poll interval (of the recording's time) */
		if (e.ts_ns - last_tick >= POLL_NS) {
			pl_tick(pl, e.ts_ns);
			last_tick = e.ts_ns;
			pl_periodic(pl, e.ts_ns);
			if (out_flush(out))
				break;
		}
	}
	replay_close(r);
	if (ret < 0)
		return log_err(s->log, 1, "%s", err);
	if (last_ts) /* a recording cut short: no end marker */
		pl_finish(pl, last_ts);
	if (out_flush(out) == EPIPE)
		return 0;
	if (out->err)
		return log_err(s->log, 1, "write error: %s", strerror(out->err));
	return 0;
}
