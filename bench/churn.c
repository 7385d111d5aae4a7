// SPDX-License-Identifier: GPL-2.0
/*
 * churn.c - loopback TCP connection churn, the workload of bench/overhead.sh.
 *
 * Opens N TCP connections in total to 127.0.0.1 (or ::1), at most C at a
 * time (and with -R at most RATE per second: a host's own rate, where a
 * tracer's cost shows as CPU, not as connections lost), each with a full
 * handshake, an optional request and response of B bytes each way, and a
 * close started by the side chosen with -C (an orderly FIN, or an RST with
 * -r). It prints one line at the end:
 *
 *	conns=N ok=N errors=N elapsed=S rate=R cpu=S
 *
 * where rate is successful connections per second of wall clock and cpu the
 * user + system seconds of this process (which includes the softirq work,
 * and so the BPF programs, that loopback runs in its context).
 *
 * Layout: T worker threads (default: one per online CPU), each with its own
 * epoll loop, its own listening ports and its own client sockets, so the
 * threads share nothing and each connection lives on one thread from
 * connect() to both close()s. Connect is blocking: on loopback the handshake
 * completes inside connect() (the SYN, SYN-ACK and ACK all run in softirq on
 * this CPU), which saves an epoll round trip per connection; the concurrency
 * cap keeps every accept queue far below its backlog, so no SYN is dropped
 * and connect() never waits for a retransmit. All later I/O is non-blocking.
 *
 * TIME_WAIT: every connection leaves one endpoint in TIME_WAIT (the side
 * that closes first) for 60 s. So that connect() always finds a free
 * 4-tuple at tens of thousands of connections per second, every thread
 * listens on P ports (-P, default 16) and the clients rotate over them: the
 * 4-tuple space is then T * P times the ephemeral port range, far more than
 * the kernel keeps in TIME_WAIT at once (net.ipv4.tcp_max_tw_buckets).
 * net.ipv4.tcp_tw_reuse (default 2: loopback only) lets connect() take a
 * TIME_WAIT tuple older than a second as well; churn needs neither tunable.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define MAX_PORTS 256 /* listening ports per thread */
#define MAX_PAYLOAD (16 << 20)
#define BACKLOG 4096
#define EVENTS_PER_WAIT 128
#define GRACE_SECS 5 /* after -T: wait this long for connections in flight */

/* What an endpoint does next. */
enum step {
	STEP_NONE, /* fd slot unused */
	STEP_LISTEN, /* a listening socket */
	STEP_SEND, /* sending its B bytes */
	STEP_RECV, /* receiving the peer's B bytes */
	STEP_EOF, /* waiting for the peer's close */
};

/* One endpoint, indexed by its fd (fds are unique in the process). */
struct endpoint {
	uint8_t step;
	bool client;
	bool watched; /* registered with the thread's epoll */
	bool want_out; /* ... including EPOLLOUT */
	uint32_t done; /* bytes sent or received in the current step */
};

struct worker {
	int id;
	int epfd;
	pthread_t thread;
	long target; /* connections this thread opens */
	long slots; /* connections in flight at most */
	long started; /* connect() attempts */
	long cli_closed; /* client ends finished, well or not */
	long srv_closed; /* server ends finished, plus connects that made none */
	long ok; /* client ends that went through every step */
	long errors;
	int err_no; /* first error, for the report */
	const char *err_what;
	unsigned int next_port;
};

static struct {
	long conns;
	long conc;
	long threads;
	long payload;
	long base_port;
	long ports;
	long max_secs;
	long rate; /* connections started per second in all, 0: as fast as possible */
	bool server_closes;
	bool rst;
	bool ipv6;
} opt = {
	.conns = 100000,
	.conc = 64,
	.base_port = 25000,
	.ports = 16,
	.max_secs = 300,
};

static struct endpoint *eps; /* eps[fd] */
static int max_fd; /* size of eps */
static char *payload; /* opt.payload bytes sent by each side */
static atomic_int stopping; /* -T reached: start nothing new */
static struct timespec t0;

static const char *prog = "churn";

static double secs_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) + (b.tv_nsec - a->tv_nsec) / 1e9;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [-n CONNS] [-c CONC] [-b BYTES] [-C client|server] [-r] [-4|-6]\n"
		"             [-t THREADS] [-p PORT] [-P PORTS] [-T SECS] [-R RATE]\n"
		"Loopback TCP churn: connect, optionally exchange BYTES each way, close.\n\n"
		"  -n CONNS    connections in total (default %ld)\n"
		"  -c CONC     connections in flight at most (default %ld)\n"
		"  -b BYTES    request and response size (default 0: connect and close)\n"
		"  -C SIDE     who closes first: client (default) or server\n"
		"  -r          close with an RST (SO_LINGER 0) instead of a FIN\n"
		"  -4, -6      127.0.0.1 (default) or ::1\n"
		"  -t THREADS  worker threads (default: online CPUs)\n"
		"  -p PORT     first listening port (default %ld)\n"
		"  -P PORTS    listening ports per thread (default %ld)\n"
		"  -T SECS     start no connection after SECS seconds (default %ld)\n"
		"  -R RATE     start RATE connections per second at most (default: as\n"
		"              fast as -c allows); the cost of a tracer then shows as cpu=\n"
		"  -h          this help\n\n"
		"Prints: conns=N ok=N errors=N elapsed=S rate=CONN/S cpu=S\n"
		"Exit status: 0 all connections ok, 1 some failed, 2 bad arguments.\n",
		prog, opt.conns, opt.conc, opt.base_port, opt.ports, opt.max_secs);
}

/* A decimal integer in [min, max], or a one-line error and exit status 2. */
static long parse_long(int flag, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "%s: -%c: '%s' is not an integer from %ld to %ld\n", prog, flag, s,
			min, max);
		exit(2);
	}
	return v;
}

static void note_error(struct worker *w, const char *what, int err)
{
	w->errors++;
	if (!w->err_what) {
		w->err_what = what;
		w->err_no = err;
	}
}

/* Fill @ss with the loopback address and @port; returns its length. */
static socklen_t make_addr(struct sockaddr_storage *ss, int port)
{
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	if (opt.ipv6) {
		a6->sin6_family = AF_INET6;
		a6->sin6_addr = in6addr_loopback;
		a6->sin6_port = htons(port);
		return sizeof(*a6);
	}
	a4->sin_family = AF_INET;
	a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a4->sin_port = htons(port);
	return sizeof(*a4);
}

static int listen_port(const struct worker *w, int i)
{
	return opt.base_port + w->id * opt.ports + i;
}

/* Connections not yet closed at both ends (exact when the thread is idle). */
static long in_flight(const struct worker *w)
{
	long closed = w->cli_closed < w->srv_closed ? w->cli_closed : w->srv_closed;

	return w->started - closed;
}

/* Is this endpoint the one that closes first? */
static bool closes_first(const struct endpoint *e)
{
	return e->client != opt.server_closes;
}

/* End an endpoint; @err is 0 when it went as planned. */
static void finish(struct worker *w, int fd, int err, const char *what)
{
	struct endpoint *e = &eps[fd];

	if (!err && opt.rst && closes_first(e)) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0) {
			err = errno;
			what = "setsockopt SO_LINGER";
		}
	}
	if (e->client) {
		w->cli_closed++;
		if (!err)
			w->ok++;
	} else {
		w->srv_closed++;
	}
	if (err)
		note_error(w, what, err);
	e->step = STEP_NONE;
	close(fd);
}

/* Make sure epoll reports @fd becoming readable (and writable if @out). */
static int watch(struct worker *w, int fd, bool out)
{
	struct endpoint *e = &eps[fd];
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (out ? EPOLLOUT : 0),
		.data.fd = fd,
	};

	if (e->watched && e->want_out == out)
		return 0;
	if (epoll_ctl(w->epfd, e->watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0)
		return -1;
	e->watched = true;
	e->want_out = out;
	return 0;
}

/* The step after @s for this endpoint: clients send then receive, servers the reverse. */
static enum step next_step(const struct endpoint *e, enum step s)
{
	if (opt.payload) {
		if (s == STEP_NONE)
			return e->client ? STEP_SEND : STEP_RECV;
		if (s == (e->client ? STEP_SEND : STEP_RECV))
			return e->client ? STEP_RECV : STEP_SEND;
	}
	return STEP_EOF;
}

/*
 * Run one endpoint as far as it goes without blocking; @events are the
 * epoll events that woke it (0 when called right after connect or accept).
 * On return the endpoint is either closed or watched by epoll.
 */
static void advance(struct worker *w, int fd, uint32_t events)
{
	struct endpoint *e = &eps[fd];
	char buf[65536];
	ssize_t n;

	for (;;) {
		switch (e->step) {
		case STEP_SEND:
			while (e->done < opt.payload) {
				n = send(fd, payload + e->done, opt.payload - e->done,
					 MSG_DONTWAIT | MSG_NOSIGNAL);
				if (n < 0 && errno == EAGAIN)
					goto wait_out;
				if (n < 0) {
					finish(w, fd, errno, "send");
					return;
				}
				e->done += n;
			}
			break;
		case STEP_RECV:
			while (e->done < opt.payload) {
				n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
				if (n < 0 && errno == EAGAIN)
					goto wait_in;
				if (n <= 0) {
					finish(w, fd, n ? errno : EPIPE, "recv");
					return;
				}
				e->done += n;
			}
			break;
		case STEP_EOF:
			/*
			 * The peer's FIN with nothing left to read: no recv() needed.
			 * Otherwise recv() tells EOF, an RST, or that it is not there yet.
			 */
			if ((events & (EPOLLRDHUP | EPOLLERR)) == EPOLLRDHUP) {
				finish(w, fd, 0, NULL);
				return;
			}
			if (!events)
				goto wait_in; /* just opened: the peer cannot have closed yet */
			n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n < 0 && errno == EAGAIN)
				goto wait_in;
			if (n == 0 || (n < 0 && errno == ECONNRESET && opt.rst))
				finish(w, fd, 0, NULL);
			else
				finish(w, fd, n < 0 ? errno : EPROTO, "recv at close");
			return;
		default:
			return;
		}
		/* the current transfer step is complete */
		e->step = next_step(e, e->step);
		e->done = 0;
		if (e->step == STEP_EOF && closes_first(e)) {
			finish(w, fd, 0, NULL);
			return;
		}
	}

wait_in:
	if (watch(w, fd, false) < 0)
		finish(w, fd, errno, "epoll_ctl");
	return;
wait_out:
	if (watch(w, fd, true) < 0)
		finish(w, fd, errno, "epoll_ctl");
}

/* Start the client end of one connection; false if it failed at once. */
static bool open_client(struct worker *w)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	w->started++;
	fd = socket(opt.ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || fd >= max_fd) {
		note_error(w, "socket", fd < 0 ? errno : EMFILE);
		if (fd >= 0)
			close(fd);
		w->cli_closed++;
		w->srv_closed++;
		return false;
	}
	eps[fd] = (struct endpoint){ .client = true };
	if (opt.payload && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		w->srv_closed++;
		finish(w, fd, errno, "setsockopt TCP_NODELAY");
		return false;
	}
	len = make_addr(&ss, listen_port(w, w->next_port++ % opt.ports));
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		w->srv_closed++; /* there will be no server end */
		finish(w, fd, errno, "connect");
		return false;
	}
	eps[fd].step = next_step(&eps[fd], STEP_NONE);
	if (eps[fd].step == STEP_EOF && closes_first(&eps[fd]))
		finish(w, fd, 0, NULL);
	else
		advance(w, fd, 0);
	return true;
}

static void accept_all(struct worker *w, int lfd)
{
	int one = 1;

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				note_error(w, "accept", errno);
			return;
		}
		if (fd >= max_fd) {
			close(fd);
			w->srv_closed++;
			note_error(w, "accept", EMFILE);
			continue;
		}
		eps[fd] = (struct endpoint){ .client = false };
		if (opt.payload)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		eps[fd].step = next_step(&eps[fd], STEP_NONE);
		if (eps[fd].step == STEP_EOF && closes_first(&eps[fd]))
			finish(w, fd, 0, NULL);
		else
			advance(w, fd, 0);
	}
}

/* With -R: this thread has started all it may by now (its share of the rate). */
static bool paced_out(const struct worker *w)
{
	return opt.rate && w->started >= secs_since(&t0) * opt.rate / opt.threads;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[EVENTS_PER_WAIT];
	double give_up = 0;

	for (;;) {
		int n, i;

		while (!stopping && w->started < w->target && in_flight(w) < w->slots &&
		       !paced_out(w)) {
			if (!open_client(w))
				break; /* e.g. no free tuple: let closes catch up */
		}
		if (w->cli_closed == w->started && w->srv_closed == w->started &&
		    (stopping || w->started == w->target))
			break;
		if (stopping) {
			if (!give_up)
				give_up = secs_since(&t0) + GRACE_SECS;
			else if (secs_since(&t0) > give_up)
				break;
		} else if (secs_since(&t0) > opt.max_secs) {
			stopping = 1;
		}
		/* paced: come back within a millisecond to start the next ones */
		n = epoll_wait(w->epfd, evs, EVENTS_PER_WAIT, opt.rate ? 1 : 100);
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (eps[fd].step == STEP_LISTEN)
				accept_all(w, fd);
			else if (eps[fd].step != STEP_NONE)
				advance(w, fd, evs[i].events);
		}
	}
	/* given up: whatever is still open failed */
	if (w->cli_closed < w->started) {
		long left = w->started - w->cli_closed;

		w->errors += left - 1;
		note_error(w, "timeout (-T)", ETIMEDOUT);
	}
	return NULL;
}

static int open_listeners(struct worker *w)
{
	int i, one = 1;

	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0) {
		fprintf(stderr, "%s: epoll_create1: %s\n", prog, strerror(errno));
		return -1;
	}
	for (i = 0; i < opt.ports; i++) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct sockaddr_storage ss;
		socklen_t len = make_addr(&ss, listen_port(w, i));
		int fd;

		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 || fd >= max_fd) {
			fprintf(stderr, "%s: socket: %s\n", prog,
				strerror(fd < 0 ? errno : EMFILE));
			return -1;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, BACKLOG) < 0) {
			fprintf(stderr, "%s: listen on port %d: %s\n", prog, listen_port(w, i),
				strerror(errno));
			return -1;
		}
		eps[fd] = (struct endpoint){ .step = STEP_LISTEN };
		ev.data.fd = fd;
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			fprintf(stderr, "%s: epoll_ctl: %s\n", prog, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void parse_args(int argc, char **argv)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int c;

	opt.threads = ncpu > 0 ? ncpu : 1;
	while ((c = getopt(argc, argv, "n:c:b:C:r46t:p:P:T:R:h")) != -1) {
		switch (c) {
		case 'n':
			opt.conns = parse_long(c, optarg, 1, LONG_MAX / 2);
			break;
		case 'c':
			opt.conc = parse_long(c, optarg, 1, 1000000);
			break;
		case 'b':
			opt.payload = parse_long(c, optarg, 0, MAX_PAYLOAD);
			break;
		case 'C':
			if (!strcmp(optarg, "client") || !strcmp(optarg, "server")) {
				opt.server_closes = optarg[0] == 's';
				break;
			}
			fprintf(stderr, "%s: -C: '%s' is neither client nor server\n", prog,
				optarg);
			exit(2);
		case 'r':
			opt.rst = true;
			break;
		case '4':
			opt.ipv6 = false;
			break;
		case '6':
			opt.ipv6 = true;
			break;
		case 't':
			opt.threads = parse_long(c, optarg, 1, MAX_THREADS);
			break;
		case 'p':
			opt.base_port = parse_long(c, optarg, 1, 65535);
			break;
		case 'P':
			opt.ports = parse_long(c, optarg, 1, MAX_PORTS);
			break;
		case 'T':
			opt.max_secs = parse_long(c, optarg, 1, 86400);
			break;
		case 'R':
			opt.rate = parse_long(c, optarg, 1, 100000000);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "Try '%s -h' for more information.\n", prog);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		exit(2);
	}
	if (opt.threads > MAX_THREADS)
		opt.threads = MAX_THREADS;
	if (opt.threads > opt.conc)
		opt.threads = opt.conc;
	if (opt.base_port + opt.threads * opt.ports - 1 > 65535) {
		fprintf(stderr, "%s: ports %ld.. for %ld threads x %ld run past 65535\n", prog,
			opt.base_port, opt.threads, opt.ports);
		exit(2);
	}
}

/* Raise the fd limit as far as allowed and size the endpoint table to it. */
static int setup_fds(void)
{
	long need = 2 * opt.conc + opt.threads * (opt.ports + 1) + 64;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		rl.rlim_cur = 1024;
	max_fd = rl.rlim_cur > (1 << 20) ? 1 << 20 : (int)rl.rlim_cur;
	if (max_fd < need) {
		fprintf(stderr, "%s: -c %ld needs %ld open files, the limit is %d\n", prog,
			opt.conc, need, max_fd);
		return -1;
	}
	eps = calloc(max_fd, sizeof(*eps));
	payload = calloc(1, opt.payload + 1);
	if (!eps || !payload) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return -1;
	}
	memset(payload, 'x', opt.payload);
	return 0;
}

int main(int argc, char **argv)
{
	struct worker *ws;
	struct rusage ru;
	long ok = 0, errors = 0, i;
	const char *err_what = NULL;
	int err_no = 0;
	double elapsed, cpu;

	parse_args(argc, argv);
	if (setup_fds() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	ws = calloc(opt.threads, sizeof(*ws));
	if (!ws) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	for (i = 0; i < opt.threads; i++) {
		ws[i].id = i;
		ws[i].target = opt.conns / opt.threads + (i < opt.conns % opt.threads);
		ws[i].slots = opt.conc / opt.threads + (i < opt.conc % opt.threads);
		if (open_listeners(&ws[i]) < 0)
			return 1;
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < opt.threads; i++) {
		int err = pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]);

		if (err) {
			fprintf(stderr, "%s: pthread_create: %s\n", prog, strerror(err));
			return 1;
		}
	}
	for (i = 0; i < opt.threads; i++)
		pthread_join(ws[i].thread, NULL);
	elapsed = secs_since(&t0);

	for (i = 0; i < opt.threads; i++) {
		ok += ws[i].ok;
		errors += ws[i].errors;
		if (!err_what && ws[i].err_what) {
			err_what = ws[i].err_what;
			err_no = ws[i].err_no;
		}
	}
	getrusage(RUSAGE_SELF, &ru);
	cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	      (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	if (err_what)
		fprintf(stderr, "%s: first error: %s: %s\n", prog, err_what, strerror(err_no));
	printf("conns=%ld ok=%ld errors=%ld elapsed=%.3f rate=%.0f cpu=%.2f\n", opt.conns, ok,
	       errors, elapsed, elapsed > 0 ? ok / elapsed : 0.0, cpu);
	return errors ? 1 : 0;
}
