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
	size_t n = 0;

	if (e->flags & EVF_PROC_CTX) {
		pid = e->pid;
		comm = e->comm;
	}
	if (o->csv) {
		format_rfc3339(ts, sizeof(ts), e->ts_ns + o->wall_offset_ns);
		format_addr(la, sizeof(la), e->family, e->saddr);
		format_addr(ra, sizeof(ra), e->family, e->daddr);
		n = snprintf(line, sizeof(line), "%s,", ts);
		if (pid)
			n += snprintf(line + n, sizeof(line) - n, "%u", pid);
		line[n++] = ',';
		n = csv_field(line, sizeof(line), n, pid ? comm : "");
		n += snprintf(line + n, sizeof(line) - n, ",%u,%s,%s,%u,%s,%u,%s,%s,", e->netns,
			      e->family == AF_INET6 ? "ipv6" : "ipv4", la, e->sport, ra, e->dport,
			      state_name(e->oldstate), state_name(e->newstate));
		if (elapsed_ns >= 0)
			n += snprintf(line + n, sizeof(line) - n, "%lld",
				      (long long)(elapsed_ns / 1000));
		fprintf(o->f, "%s\n", line);
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
