// SPDX-License-Identifier: GPL-2.0
/*
 * delayline.c - a fixed-delay IP link between two network namespaces, for
 * tcpphase's integration tests (this kernel has no netem).
 *
 * It creates a TUN device (IFF_TUN | IFF_NO_PI) in each of two existing
 * named namespaces (/var/run/netns/NAME) and forwards every IP packet read
 * from one device to the other DELAY_MS later, in order, in both directions.
 * Once both devices exist it prints "ready" on stdout (and writes "ready\n"
 * to READY_FILE if given). It stops on SIGINT or SIGTERM and then reports
 * per-direction counts (forwarded, dropped on a full queue, failed writes)
 * on stderr.
 *
 * With -l LOG_FILE it also logs every packet it forwards, so that tests can
 * compare what tcpphase reports with what happened on the wire, one line a
 * packet, times in CLOCK_MONOTONIC ns (the clock of bpf_ktime_get_ns):
 *
 *   DIR READ WRITE_START WRITE_END PROTO SPORT DPORT FLAGS PAYLOAD_LEN
 *
 * DIR is "ab" (read from A's device, written to B's) or "ba"; READ is when
 * the packet left its sender's stack, WRITE_START/WRITE_END bracket its
 * delivery to the receiver's (a TUN write runs the receiving stack before
 * it returns). PROTO is the IP protocol number; SPORT, DPORT, FLAGS (a
 * subset of "FSRPA", or "-") and PAYLOAD_LEN are TCP's, 0 and "-" otherwise.
 *
 * usage: delayline -a NS_A -b NS_B -d DELAY_MS [-n TUN_NAME] [-r READY_FILE]
 *                  [-l LOG_FILE]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_LEN 4096 /* packets queued per direction */
#define PKT_MAX 65536 /* largest packet read from a tun */
#define NSEC_PER_SEC 1000000000LL
#define NSEC_PER_MSEC 1000000LL

struct pkt {
	long long read; /* CLOCK_MONOTONIC ns */
	long long release;
	size_t len;
	unsigned char *data;
};

/* One direction: packets read from fd_in, written to fd_out. */
struct dir {
	const char *name;
	int fd_in;
	int fd_out;
	struct pkt q[QUEUE_LEN];
	unsigned int head; /* next to send */
	unsigned int count;
	unsigned long long fwd;
	unsigned long long dropped;
	unsigned long long tx_err;
};

static volatile sig_atomic_t stop;
static FILE *pkt_log; /* -l: one line per forwarded packet */

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("delayline: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static long long now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		die("clock_gettime: %s", strerror(errno));
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* Create the TUN device @name inside the named namespace @ns. */
static int open_tun_in(const char *ns, const char *name)
{
	char path[PATH_MAX];
	struct ifreq ifr;
	int nsfd, fd;

	if (snprintf(path, sizeof(path), "/var/run/netns/%s", ns) >= (int)sizeof(path))
		die("namespace name too long: %s", ns);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		die("open %s: %s", path, strerror(errno));
	if (setns(nsfd, CLONE_NEWNET))
		die("setns %s: %s", path, strerror(errno));
	close(nsfd);

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		die("open /dev/net/tun: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr))
		die("TUNSETIFF %s in %s: %s", name, ns, strerror(errno));
	return fd;
}

static void write_ready(const char *path)
{
	static const char msg[] = "ready\n";
	int fd;

	if (path) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			die("open %s: %s", path, strerror(errno));
		if (write(fd, msg, sizeof(msg) - 1) != sizeof(msg) - 1)
			die("write %s: %s", path, strerror(errno));
		if (close(fd))
			die("close %s: %s", path, strerror(errno));
	}
	if (fputs(msg, stdout) == EOF || fflush(stdout))
		die("write stdout: %s", strerror(errno));
}

/* Drain fd_in, stamping each packet with its release time. */
static void rx(struct dir *d, long long delay, unsigned char *buf)
{
	struct pkt *p;
	ssize_t n;

	for (;;) {
		n = read(d->fd_in, buf, PKT_MAX);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			die("read %s: %s", d->name, strerror(errno));
		}
		if (d->count == QUEUE_LEN) {
			d->dropped++;
			continue;
		}
		p = &d->q[(d->head + d->count) % QUEUE_LEN];
		p->data = malloc(n ? n : 1);
		if (!p->data)
			die("out of memory");
		memcpy(p->data, buf, n);
		p->len = n;
		p->read = now_ns();
		p->release = p->read + delay;
		d->count++;
	}
}

/*
 * Log one forwarded IPv4 or IPv6 packet (see the top of the file). Only
 * packets without IPv6 extension headers are parsed: the tests send none.
 */
static void log_pkt(const struct dir *d, const struct pkt *p, long long w0, long long w1)
{
	static const char names[] = "FSRPA";
	static const unsigned char bits[] = { 0x01, 0x02, 0x04, 0x08, 0x10 };
	const unsigned char *b = p->data, *tcp = NULL;
	unsigned int proto = 0, sport = 0, dport = 0, plen = 0, ip_len = 0, hl;
	char flags[8] = "-";
	int n = 0;

	if (p->len >= 20 && b[0] >> 4 == 4) {
		proto = b[9];
		hl = (b[0] & 15) * 4;
		ip_len = b[2] << 8 | b[3];
		if (proto == 6 && p->len >= hl + 20 && ip_len <= p->len) {
			tcp = b + hl;
			ip_len -= hl;
		}
	} else if (p->len >= 40 && b[0] >> 4 == 6) {
		proto = b[6];
		ip_len = b[4] << 8 | b[5];
		if (proto == 6 && p->len >= 60 && ip_len + 40 <= p->len)
			tcp = b + 40;
	}
	if (tcp && (unsigned int)(tcp[12] >> 4) * 4 <= ip_len) {
		sport = tcp[0] << 8 | tcp[1];
		dport = tcp[2] << 8 | tcp[3];
		plen = ip_len - (tcp[12] >> 4) * 4;
		for (int i = 0; i < 5; i++)
			if (tcp[13] & bits[i])
				flags[n++] = names[i];
		flags[n ? n : 1] = '\0';
	}
	fprintf(pkt_log, "%s %lld %lld %lld %u %u %u %s %u\n", d->name[0] == 'a' ? "ab" : "ba",
		p->read, w0, w1, proto, sport, dport, flags, plen);
	fflush(pkt_log);
}

/* Send every packet whose release time has come. */
static void tx(struct dir *d, long long now)
{
	long long w0, w1;
	struct pkt *p;
	ssize_t n;

	while (d->count && d->q[d->head].release <= now) {
		p = &d->q[d->head];
		w0 = now_ns();
		n = write(d->fd_out, p->data, p->len);
		w1 = now_ns();
		/* A tun that is down refuses packets (EIO): count, go on. */
		if (n == (ssize_t)p->len) {
			d->fwd++;
			if (pkt_log)
				log_pkt(d, p, w0, w1);
		} else {
			d->tx_err++;
		}
		free(p->data);
		d->head = (d->head + 1) % QUEUE_LEN;
		d->count--;
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: delayline -a NS_A -b NS_B -d DELAY_MS [-n TUN_NAME] "
			"[-r READY_FILE] [-l LOG_FILE]\n");
	exit(1);
}

int main(int argc, char **argv)
{
	const char *ns_a = NULL, *ns_b = NULL, *tun = "tp0", *ready = NULL;
	static struct dir dirs[2];
	static unsigned char buf[PKT_MAX];
	struct sigaction sa;
	sigset_t block, orig;
	struct pollfd pfd[2];
	long long delay, next, now;
	struct timespec ts;
	char *end;
	int opt, self, fd_a, fd_b, i;

	delay = -1;
	while ((opt = getopt(argc, argv, "a:b:d:l:n:r:")) != -1) {
		switch (opt) {
		case 'a':
			ns_a = optarg;
			break;
		case 'b':
			ns_b = optarg;
			break;
		case 'd':
			errno = 0;
			delay = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg || delay < 0 || delay > 3600000)
				die("bad delay: %s", optarg);
			break;
		case 'l':
			pkt_log = fopen(optarg, "we");
			if (!pkt_log)
				die("open %s: %s", optarg, strerror(errno));
			break;
		case 'n':
			tun = optarg;
			break;
		case 'r':
			ready = optarg;
			break;
		default:
			usage();
		}
	}
	if (!ns_a || !ns_b || delay < 0 || optind != argc)
		usage();
	if (!*tun || strlen(tun) >= IFNAMSIZ)
		die("bad tun name: %s", tun);
	delay *= NSEC_PER_MSEC;

	/* Signals only arrive inside ppoll(), so no wakeup can be lost. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	if (sigemptyset(&block) || sigaddset(&block, SIGINT) || sigaddset(&block, SIGTERM))
		die("sigset: %s", strerror(errno));
	if (sigprocmask(SIG_BLOCK, &block, &orig))
		die("sigprocmask: %s", strerror(errno));
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
		die("sigaction: %s", strerror(errno));

	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		die("open /proc/self/ns/net: %s", strerror(errno));
	fd_a = open_tun_in(ns_a, tun);
	fd_b = open_tun_in(ns_b, tun);
	if (setns(self, CLONE_NEWNET))
		die("setns back: %s", strerror(errno));
	close(self);

	dirs[0].name = "a->b";
	dirs[0].fd_in = fd_a;
	dirs[0].fd_out = fd_b;
	dirs[1].name = "b->a";
	dirs[1].fd_in = fd_b;
	dirs[1].fd_out = fd_a;
	pfd[0].fd = fd_a;
	pfd[1].fd = fd_b;
	pfd[0].events = pfd[1].events = POLLIN;

	write_ready(ready);

	while (!stop) {
		now = now_ns();
		next = -1;
		for (i = 0; i < 2; i++) {
			tx(&dirs[i], now);
			if (dirs[i].count && (next < 0 || dirs[i].q[dirs[i].head].release < next))
				next = dirs[i].q[dirs[i].head].release;
		}
		if (next >= 0) {
			next -= now;
			ts.tv_sec = next / NSEC_PER_SEC;
			ts.tv_nsec = next % NSEC_PER_SEC;
		}
		if (ppoll(pfd, 2, next >= 0 ? &ts : NULL, &orig) < 0) {
			if (errno == EINTR)
				continue;
			die("ppoll: %s", strerror(errno));
		}
		for (i = 0; i < 2; i++) {
			if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL))
				die("tun %s: poll error", dirs[i].name);
			if (pfd[i].revents & POLLIN)
				rx(&dirs[i], delay, buf);
		}
	}

	for (i = 0; i < 2; i++)
		fprintf(stderr,
			"delayline: %s: %llu forwarded, %llu dropped, %llu write errors, "
			"%u still queued\n",
			dirs[i].name, dirs[i].fwd, dirs[i].dropped, dirs[i].tx_err, dirs[i].count);
	return 0;
}
