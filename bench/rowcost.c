// SPDX-License-Identifier: GPL-2.0
/*
 * rowcost.c - what one CSV row costs tcpphase's user space on its own: the
 * lifecycle sink's row for a typical endpoint (an active closer through
 * TIME_WAIT), formatted N times into a 1 MiB stdio buffer on /dev/null, as
 * live tracing writes them. No BPF, no root: the figure is compute only, a
 * warm cache's, so it changes with the code and little with the machine's
 * load (bench/RESULTS.md, issue #20).
 *
 * Usage: rowcost [N] (default 2,000,000 rows); rowcost -p prints 3 rows.
 * Built by `make rowcost`.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "sink.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void typical(struct conn *c)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < PH_MAX; i++)
		c->ph[i] = -1;
	c->pid = 12345;
	strcpy(c->comm, "churn");
	c->netns = 4026531840u;
	c->family = AF_INET;
	c->role = ROLE_ACTIVE;
	c->laddr[0] = c->raddr[0] = 127;
	c->laddr[3] = c->raddr[3] = 1;
	c->rport = 8080;
	c->result = RES_OK;
	c->ph[PH_HANDSHAKE] = 45123;
	c->ph[PH_ESTABLISHED] = 1234567;
	c->ph[PH_FIN_WAIT1] = 40000;
	c->ph[PH_FIN_WAIT2] = 30000;
	c->ph[PH_TIME_WAIT] = 60000123456LL;
	c->closer = CLOSER_LOCAL;
	c->tw_end = TWE_EXPIRED;
	c->tx_bytes = 100;
	c->rx_bytes = 200;
	c->srtt_us = 30;
}

int main(int argc, char **argv)
{
	bool print = argc > 1 && !strcmp(argv[1], "-p");
	long n = print ? 3 : argc > 1 ? atol(argv[1]) : 2000000;
	struct out o = { .csv = true, .wall_offset_ns = 1765000000000000000LL };
	static char buf[1 << 20]; /* as tcpphase's stdout (glibc ignores a size with no buffer) */
	uint64_t t0, t1;
	struct conn c;

	if (n <= 0) {
		fprintf(stderr, "rowcost: N must be a positive number of rows\n");
		return 1;
	}
	o.f = print ? stdout : fopen("/dev/null", "w");
	if (!o.f || setvbuf(o.f, buf, _IOFBF, sizeof(buf)))
		return 1;
	typical(&c);
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		c.t_start = 1000000000ULL + i * 125000ULL; /* 8,000 a second */
		c.t_end = c.t_start + 61000000000ULL;
		c.lport = 32768 + i % 28232;
		lifecycle_sink.record(&o, &c, REC_FINAL);
	}
	fflush(o.f);
	t1 = now_ns();
	if (!print)
		printf("%.1f ns/row (%ld rows)\n", (double)(t1 - t0) / n, n);
	return 0;
}
