// SPDX-License-Identifier: GPL-2.0
/*
 * workload.c - the loopback TCP workload of the kernel matrix
 * (scripts/kernel-matrix.sh). Built static, it runs as the only program
 * of a guest besides busybox and tcpphase: no modules, no nft, no TUN.
 *
 * Every case is one or more connections on 127.0.0.1 (one on ::1), made
 * one after another by this single process (a loopback handshake completes
 * inside connect(), before accept()):
 *
 *   client_first  the client closes first (client TIME_WAIT, server CLOSE_WAIT)
 *   server_first  the server closes first (client CLOSE_WAIT, server TIME_WAIT)
 *   refused       connect() to a closed port
 *   reset         the client closes with SO_LINGER 0 (an RST ends both ends)
 *   timeout       connect() to a listener whose accept queue is full: its SYNs
 *                 are dropped, connect() fails after tcp_syn_retries (1: ~3 s)
 *   tw_reuse      a client TIME_WAIT taken over by a new connect() from the
 *                 same local port (tcp_tw_reuse, after its 1 s delay)
 *
 * It prints what it measured with CLOCK_MONOTONIC, one line per step, for
 * the host to hold the tracer's figures against:
 *
 *   wl connect case=NAME family=ipv4 lport=N rport=N rc=ERRNO-NAME us=N
 *   wl gap case=NAME lport=N us=N lo=N  first close to second close: us
 *                                      from before the first close() to after
 *                                      the second, lo from after to before
 *   wl twgap case=tw_reuse lport=N us=N  client close to the reusing connect
 *   wl done connects=N                 every connect() call made
 *
 * usage: workload   (exits 0 when every case went as planned)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PORT_OK 7001 /* a listener that accepts */
#define PORT_FULL 7002 /* a listener never accepted from, backlog 1 */
#define PORT_CLOSED 7009 /* nobody listens */
#define PORT_TW 7100 /* the client port whose TIME_WAIT is reused */
#define HALF_CLOSE_MS 100 /* how long the second closer waits */
#define TW_REUSE_DELAY_MS 1200 /* past tcp_tw_reuse's 1 s */

static int connects;
static int failures;
static long long last_close_us; /* the first close of close_in_order() */

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void fail(const char *what)
{
	printf("wl error %s: %s\n", what, strerror(errno));
	fflush(stdout);
	failures++;
}

static const char *errname(int err)
{
	switch (err) {
	case 0:
		return "0";
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	case EADDRNOTAVAIL:
		return "EADDRNOTAVAIL";
	case ECONNRESET:
		return "ECONNRESET";
	default:
		return "other";
	}
}

static socklen_t sockaddr_of(int family, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		return sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*a);
	}
}

static int local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int listener(int family, int port, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(family, port, &ss);
	int one = 1;
	int fd = socket(family, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, backlog)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * connect() to port, from lport if not 0, and print how it went. Returns
 * the socket (connected or not) and the connect() errno in *err.
 */
static int connect_to(const char *name, int family, int port, int lport, int *err)
{
	struct sockaddr_storage ss;
	socklen_t len;
	long long t0;
	int one = 1, fd, rc;

	*err = 0;
	fd = socket(family, SOCK_STREAM, 0);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	if (lport) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		len = sockaddr_of(family, lport, &ss);
		if (bind(fd, (struct sockaddr *)&ss, len)) {
			*err = errno;
			close(fd);
			return -1;
		}
	}
	len = sockaddr_of(family, port, &ss);
	t0 = now_us();
	connects++;
	rc = connect(fd, (struct sockaddr *)&ss, len);
	if (rc)
		*err = errno;
	printf("wl connect case=%s family=%s lport=%d rport=%d rc=%s us=%lld\n", name,
	       family == AF_INET6 ? "ipv6" : "ipv4", local_port(fd), port, errname(*err),
	       now_us() - t0);
	fflush(stdout);
	return fd;
}

/* accept() with a timeout, so a connection that did not arrive hangs nothing */
static int accept_within(int lfd, int ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };

	if (poll(&p, 1, ms) != 1)
		return -1;
	return accept(lfd, NULL, NULL);
}

/* one byte each way, so both ends have data acked before the close */
static int exchange(int cfd, int sfd)
{
	char c = 'x';

	return write(cfd, &c, 1) != 1 || read(sfd, &c, 1) != 1 || write(sfd, &c, 1) != 1 ||
	       read(cfd, &c, 1) != 1;
}

/* first closes, then after HALF_CLOSE_MS second sees EOF and closes */
static void close_in_order(const char *name, int lport, int first, int second)
{
	long long before, t0, t1;
	char c;

	before = now_us();
	close(first);
	t0 = now_us();
	last_close_us = t0;
	sleep_ms(HALF_CLOSE_MS);
	if (read(second, &c, 1) != 0)
		fail("no EOF after the peer's close");
	t1 = now_us();
	close(second);
	/* the phases between lie within us (both close() calls included) and
	 * no shorter than lo (neither included) */
	printf("wl gap case=%s lport=%d us=%lld lo=%lld\n", name, lport, now_us() - before,
	       t1 - t0);
}

/* a connection that completes and closes in order; its client's port */
static int clean_connection(const char *name, int family, int lfd, int lport, int client_first)
{
	int err, cfd, sfd, port;

	cfd = connect_to(name, family, PORT_OK, lport, &err);
	if (cfd < 0 || err) {
		fail(name);
		if (cfd >= 0)
			close(cfd);
		return -1;
	}
	port = local_port(cfd);
	sfd = accept_within(lfd, 2000);
	if (sfd < 0 || exchange(cfd, sfd)) {
		fail(name);
		close(cfd);
		if (sfd >= 0)
			close(sfd);
		return -1;
	}
	if (client_first)
		close_in_order(name, port, cfd, sfd);
	else
		close_in_order(name, port, sfd, cfd);
	return port;
}

static void case_refused(void)
{
	int err, fd = connect_to("refused", AF_INET, PORT_CLOSED, 0, &err);

	if (err != ECONNREFUSED)
		fail("refused: connect() did not fail with ECONNREFUSED");
	if (fd >= 0)
		close(fd);
}

static void case_reset(int lfd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int err, sfd, cfd = connect_to("reset", AF_INET, PORT_OK, 0, &err);
	char c;

	if (cfd < 0 || err) {
		fail("reset: connect");
		return;
	}
	sfd = accept_within(lfd, 2000);
	if (sfd < 0 || exchange(cfd, sfd)) {
		fail("reset: accept");
		close(cfd);
		return;
	}
	sleep_ms(50);
	setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(cfd);
	if (read(sfd, &c, 1) >= 0 || errno != ECONNRESET)
		fail("reset: the server saw no ECONNRESET");
	close(sfd);
}

/* The kernel's TcpExt ListenOverflows (/proc/net/netstat), -1 if unreadable. */
static long long listen_overflows(void)
{
	char names[4096], values[4096];
	long long v = -1;
	FILE *f = fopen("/proc/net/netstat", "re");

	if (!f)
		return -1;
	while (fgets(names, sizeof(names), f) && fgets(values, sizeof(values), f)) {
		char *n, *x, *sn, *sx;

		if (strncmp(names, "TcpExt:", 7))
			continue;
		n = strtok_r(names, " \n", &sn);
		x = strtok_r(values, " \n", &sx);
		while (n && x) {
			if (!strcmp(n, "ListenOverflows"))
				v = atoll(x);
			n = strtok_r(NULL, " \n", &sn);
			x = strtok_r(NULL, " \n", &sx);
		}
	}
	fclose(f);
	return v;
}

/*
 * Fill PORT_FULL's accept queue (backlog 1: two connections fit), then the
 * next SYN is dropped until connect() gives up. The queued ones are accepted
 * and closed cleanly afterwards.
 */
static void case_timeout(void)
{
	int fds[8], n = 0, err = 0, i, sfd;
	long long ovf0 = listen_overflows();
	int lfd = listener(AF_INET, PORT_FULL, 1);

	if (lfd < 0) {
		fail("timeout: listen");
		return;
	}
	while (n < 8) {
		fds[n] = connect_to(n < 2 ? "fill" : "timeout", AF_INET, PORT_FULL, 0, &err);
		if (fds[n] < 0)
			break;
		n++;
		if (err)
			break;
	}
	if (err != ETIMEDOUT)
		fail("timeout: no connect() timed out");
	/* what --listeners must count for PORT_FULL, the kernel's own count */
	printf("wl overflows port=%d kernel=%lld\n", PORT_FULL, listen_overflows() - ovf0);
	for (i = 0; i < n; i++) {
		sfd = accept_within(lfd, 500);
		if (sfd >= 0)
			close(sfd);
		close(fds[i]);
	}
	close(lfd);
}

/*
 * A client closes first from PORT_TW, so its TIME_WAIT holds the tuple;
 * after tcp_tw_reuse's delay a new connect() from PORT_TW takes it over.
 */
static void case_tw_reuse(int lfd)
{
	int err, cfd, sfd, tries;
	long long t0;
	char c;

	if (clean_connection("tw_first", AF_INET, lfd, PORT_TW, 1) < 0)
		return;
	t0 = last_close_us;
	sleep_ms(TW_REUSE_DELAY_MS);
	for (tries = 0; tries < 8; tries++) {
		cfd = connect_to("tw_reuse", AF_INET, PORT_OK, PORT_TW, &err);
		if (cfd >= 0 && !err)
			break;
		if (cfd >= 0)
			close(cfd);
		sleep_ms(500);
	}
	if (tries == 8) {
		fail("tw_reuse: the TIME_WAIT was never reused");
		return;
	}
	printf("wl twgap case=tw_reuse lport=%d us=%lld\n", PORT_TW, now_us() - t0);
	sfd = accept_within(lfd, 2000);
	if (sfd < 0 || exchange(cfd, sfd)) {
		fail("tw_reuse: accept");
		close(cfd);
		return;
	}
	/* the server closes first: no second TIME_WAIT on PORT_TW */
	close(sfd);
	if (read(cfd, &c, 1) != 0)
		fail("tw_reuse: no EOF");
	close(cfd);
}

/* "workload listeners": what --listeners is checked on, a listener that accepts, a full one */
static int listeners_run(void)
{
	int lfd = listener(AF_INET, PORT_OK, 64);

	if (lfd < 0) {
		fail("listen");
		return 1;
	}
	clean_connection("client_first", AF_INET, lfd, 0, 1);
	clean_connection("server_first", AF_INET, lfd, 0, 0);
	case_timeout();
	close(lfd);
	printf("wl done connects=%d failures=%d\n", connects, failures);
	return failures != 0;
}

int main(int argc, char **argv)
{
	int lfd, lfd6;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "listeners"))
		return listeners_run();
	if (argc > 1 && !strcmp(argv[1], "warmup")) {
		/* one connection, so that the kernel patches its once-only
		 * static branches (the TCP hash secrets) now, not under load */
		lfd = listener(AF_INET, PORT_OK, 64);
		if (lfd < 0 || clean_connection("warmup", AF_INET, lfd, 0, 1) < 0)
			return 1;
		close(lfd);
		sleep_ms(1000);
		return 0;
	}
	lfd = listener(AF_INET, PORT_OK, 64);
	lfd6 = listener(AF_INET6, PORT_OK, 64);
	if (lfd < 0 || lfd6 < 0) {
		fail("listen");
		return 1;
	}
	clean_connection("client_first", AF_INET, lfd, 0, 1);
	clean_connection("client_first", AF_INET, lfd, 0, 1);
	clean_connection("client_first", AF_INET6, lfd6, 0, 1);
	clean_connection("server_first", AF_INET, lfd, 0, 0);
	clean_connection("server_first", AF_INET, lfd, 0, 0);
	case_refused();
	case_reset(lfd);
	case_timeout();
	case_tw_reuse(lfd);
	close(lfd);
	close(lfd6);
	printf("wl done connects=%d failures=%d\n", connects, failures);
	return failures != 0;
}
