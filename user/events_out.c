// SPDX-License-Identifier: GPL-2.0
/*
 * events_out.c - the --events sink: one line per state change, as a table
 * or as CSV (time,pid,comm,netns,family,laddr,lport,raddr,rport,oldstate,
 * newstate,elapsed_us). The pid is the task that made the change when it
 * ran in a system call, else the socket's owner as far as it is known.
 */
#include <string.h>
#include <sys/socket.h>

#include "format.h"
#include "sink.h"

static void ev_header(struct out *o)
{
	if (o->csv)
		fputs("time,pid,comm,netns,family,laddr,lport,raddr,rport,oldstate,newstate,"
		      "elapsed_us\n",
		      o->f);
	else
		fprintf(o->f, "%-12s %-7s %-12s %-10s %-21s %-21s %-11s    %-11s %s\n", "TIME",
			"PID", "COMM", "NETNS", "LADDR:LPORT", "RADDR:RPORT", "OLDSTATE",
			"NEWSTATE", "MS");
}

static void ev_transition(struct out *o, const struct event *e, const struct conn *c,
			  int64_t elapsed_ns)
{
	const char *comm = c && c->pid ? c->comm : "";
	uint32_t pid = c ? c->pid : 0;
	char ts[TIME_STRLEN], la[64], ra[64], line[512];

	if (e->flags & EVF_PROC_CTX) {
		pid = e->pid;
		comm = e->comm;
	}
	if (o->csv) {
		struct strbuf b = { .buf = line, .cap = sizeof(line) };

		sb_str(&b, format_rfc3339(ts, sizeof(ts), e->ts_ns + o->wall_offset_ns));
		sb_char(&b, ',');
		if (pid) {
			sb_u64(&b, pid);
			sb_char(&b, ',');
			sb_csv(&b, comm);
		} else {
			sb_char(&b, ',');
		}
		sb_char(&b, ',');
		sb_u64(&b, e->netns);
		sb_str(&b, e->family == AF_INET6 ? ",ipv6," : ",ipv4,");
		sb_str(&b, format_addr(la, sizeof(la), e->family, e->saddr));
		sb_char(&b, ',');
		sb_u64(&b, e->sport);
		sb_char(&b, ',');
		sb_str(&b, format_addr(ra, sizeof(ra), e->family, e->daddr));
		sb_char(&b, ',');
		sb_u64(&b, e->dport);
		sb_char(&b, ',');
		sb_str(&b, state_name(e->oldstate));
		sb_char(&b, ',');
		sb_str(&b, state_name(e->newstate));
		sb_char(&b, ',');
		sb_us(&b, elapsed_ns);
		sb_char(&b, '\n');
		fwrite(b.buf, 1, b.len, o->f);
		return;
	}
	char pidbuf[16], ms[32];

	format_clock(ts, sizeof(ts), e->ts_ns + o->wall_offset_ns);
	format_addr_port(la, sizeof(la), e->family, e->saddr, e->sport);
	format_addr_port(ra, sizeof(ra), e->family, e->daddr, e->dport);
	snprintf(pidbuf, sizeof(pidbuf), "%u", pid);
	format_ms(ms, sizeof(ms), elapsed_ns < 0 ? -1 : elapsed_ns / 1000);
	fprintf(o->f, "%-12s %-7s %-12.12s %-10u %-21s %-21s %-11s -> %-11s %s\n", ts,
		pid ? pidbuf : "-", pid && comm[0] ? comm : "-", e->netns, la, ra,
		state_name(e->oldstate), state_name(e->newstate), ms);
}

const struct sink events_sink = {
	.header = ev_header,
	.transition = ev_transition,
};
