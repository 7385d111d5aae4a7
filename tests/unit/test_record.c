// SPDX-License-Identifier: GPL-2.0
/*
 * test_record.c - the recording file (-W/-r): events and header round trip
 * through a file, replaying gives the connection table what the live run
 * gave it, and every truncated, corrupt, foreign or future file ends in a
 * one-line error, never in a crash nor in a short replay taken for a whole
 * one. test_golden pins the on-disk bytes of record.c's layout.
 *
 * `test_record --write-corpus DIR` writes the replay fuzzer's seed files
 * (tests/fuzz/corpus) with the same generators instead of testing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "conntable.h"
#include "record.h"
#include "tuples.h"
#include "unit.h"

#define US(x) (1000ULL * (uint64_t)(x))
#define MS(x) (1000000ULL * (uint64_t)(x))
#define SEC(x) (1000000000ULL * (uint64_t)(x))
#define S0 SEC(1000)
#define NETNS 4026531840u
#define ERRLEN 512
#define HDR_LEN 168 /* record.c's version 1 header */
#define BLK_HDR 12
#define TAIL (offsetof(struct event, comm) + TASK_COMM_LEN) /* padding after it, to cgroup */

static char tmpdir[200];

/* ---- files ---- */

static const char *tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
	return buf;
}

/* The whole file at path, malloc'd, or NULL. */
static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	buf = malloc(st.st_size + 1);
	while (buf && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, st.st_size - got);

		if (n <= 0) {
			free(buf);
			buf = NULL;
			break;
		}
		got += n;
	}
	close(fd);
	*len = got;
	return buf;
}

static bool spew(const char *path, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return false;
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0) {
			close(fd);
			return false;
		}
		p += n;
		len -= n;
	}
	return !close(fd);
}

static void rm_tmpdir(void)
{
	struct dirent *d;
	char path[512];
	DIR *dir = opendir(tmpdir);

	if (!dir)
		return;
	while ((d = readdir(dir)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
			unlink(tmp_path(path, sizeof(path), d->d_name));
	closedir(dir);
	rmdir(tmpdir);
}

/* ---- events ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

/* Zero a third of the time, small a third, any width a third. */
static uint64_t rnd_val(void)
{
	switch (rnd() % 3) {
	case 0:
		return 0;
	case 1:
		return rnd() % 1000;
	default:
		return rnd() >> (rnd() % 64);
	}
}

/* Any event a reader takes, as BPF fills it (comm NUL-padded, pad 0). */
static struct event rnd_event(void)
{
	struct event e;
	int n;

	memset(&e, 0, sizeof(e));
	e.type = EV_STATE + rnd() % (EV_TYPE_MAX - EV_STATE);
	e.family = rnd() & 1 ? AF_INET : AF_INET6;
	e.ts_ns = rnd_val();
	e.id = rnd_val();
	e.aux = rnd_val();
	e.tx_bytes = rnd_val();
	e.rx_bytes = rnd_val();
	e.pid = rnd_val();
	e.netns = rnd_val();
	e.retrans = rnd_val();
	e.srtt_us = rnd_val();
	e.sport = rnd_val();
	e.dport = rnd_val();
	e.oldstate = rnd() % TS_MAX_STATES;
	e.newstate = rnd() % TS_MAX_STATES;
	e.err = rnd_val();
	e.flags = rnd_val();
	n = e.family == AF_INET ? 4 : 16;
	for (int i = 0; i < n; i++) {
		e.saddr[i] = rnd() % 4 ? rnd() : 0;
		e.daddr[i] = rnd() % 4 ? rnd() : 0;
	}
	n = rnd() % (TASK_COMM_LEN + 1); /* 16: no NUL at all */
	for (int i = 0; i < n; i++)
		e.comm[i] = 'a' + rnd() % 26;
	return e;
}

/* 2001:db8::1 and 2001:db8::2 */
static const struct tup CLI2 = { AF_INET, { 10, 0, 0, 1 }, { 10, 0, 0, 3 }, 40001, 80 };
static const struct tup SRV6 = { AF_INET6,
				 { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 },
				 { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
				 443,
				 50000 };
static const struct tup LSN6 = { AF_INET6, { 0 }, { 0 }, 443, 0 };
static const struct tup CLI6 = { AF_INET6,
				 { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
				 { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 },
				 50001,
				 443 };

static struct event ev(int type, uint64_t ts, uint64_t id, const struct tup *tp, int old, int new)
{
	struct event e = { .ts_ns = ts, .id = id, .type = type, .netns = NETNS };

	set_tup(&e, tp);
	e.oldstate = old;
	e.newstate = new;
	return e;
}

#define SK1 0xffff888001000000ULL
#define SK2 0xffff888002000000ULL
#define SK3 0xffff888003000000ULL
#define SK4 0xffff888004000000ULL
#define LSK 0xffff888010000000ULL
#define TW1 0xffff888020000000ULL
#define REQ1 0xffff888030000000ULL
#define REQ2 0xffff888031000000ULL

/*
 * Whole lifecycles as BPF reports them, one after the other: an IPv4
 * active close through TIME_WAIT, an IPv6 passive close (request sock,
 * accept, CLOSE_WAIT), a refused IPv4 connect, a failed passive handshake
 * (SYN-ACK retransmits, then the request dropped) and a reset IPv6 client.
 * Fills ev (at least 32) and returns the count.
 */
static int scenario(struct event *evs)
{
	const uint64_t t_tw = S0 + MS(1150), b = S0 + SEC(100), c = S0 + SEC(200);
	const uint64_t d = S0 + SEC(300), f = S0 + SEC(400);
	struct event e;
	int n = 0;

	e = proc(ev(EV_STATE, S0, SK1, &CLI, TS_CLOSE, TS_SYN_SENT), 100, "curl");
	e.sport = 0;
	evs[n++] = e;
	evs[n++] = ev(EV_STATE, S0 + MS(50), SK1, &CLI, TS_SYN_SENT, TS_ESTABLISHED);
	evs[n++] = proc(ev(EV_STATE, S0 + MS(1050), SK1, &CLI, TS_ESTABLISHED, TS_FIN_WAIT1), 100,
			"curl");
	evs[n++] = ev(EV_STATE, S0 + MS(1100), SK1, &CLI, TS_FIN_WAIT1, TS_FIN_WAIT2);
	e = ev(EV_TW_START, t_tw, TW1, &CLI, 0, TS_TIME_WAIT);
	e.aux = t_tw + SEC(60);
	evs[n++] = e;
	e = ev(EV_STATE, t_tw + US(5), SK1, &CLI, TS_FIN_WAIT2, TS_CLOSE);
	e.aux = TW1;
	e.tx_bytes = 1000;
	e.rx_bytes = 2000;
	e.retrans = 2;
	e.srtt_us = 250;
	evs[n++] = e;
	e = ev(EV_TW_EXPIRE, t_tw + SEC(61), TW1, &CLI, 0, TS_TIME_WAIT);
	e.aux = t_tw + SEC(60);
	evs[n++] = e;

	evs[n++] = proc(ev(EV_STATE, b - SEC(1), LSK, &LSN6, TS_CLOSE, TS_LISTEN), 200, "nginx");
	e = ev(EV_REQ_START, b, REQ1, &SRV6, 0, TS_NEW_SYN_RECV);
	e.aux = LSK;
	evs[n++] = e;
	evs[n++] = ev(EV_STATE, b + MS(31), SK2, &LSN6, TS_LISTEN, TS_SYN_RECV);
	e = ev(EV_REQ_CANCEL, b + MS(31) + US(2), REQ1, &SRV6, 0, TS_NEW_SYN_RECV);
	e.aux = LSK;
	evs[n++] = e;
	evs[n++] = ev(EV_STATE, b + MS(31) + US(5), SK2, &SRV6, TS_SYN_RECV, TS_ESTABLISHED);
	evs[n++] = proc(ev(EV_ACCEPT, b + MS(40), SK2, &SRV6, TS_ESTABLISHED, TS_ESTABLISHED), 200,
			"nginx");
	evs[n++] = ev(EV_STATE, b + SEC(2), SK2, &SRV6, TS_ESTABLISHED, TS_CLOSE_WAIT);
	evs[n++] = proc(ev(EV_STATE, b + MS(2100), SK2, &SRV6, TS_CLOSE_WAIT, TS_LAST_ACK), 200,
			"nginx");
	e = ev(EV_STATE, b + MS(2150), SK2, &SRV6, TS_LAST_ACK, TS_CLOSE);
	e.tx_bytes = 123456;
	e.rx_bytes = 789;
	e.srtt_us = 80;
	evs[n++] = e;

	e = proc(ev(EV_STATE, c, SK3, &CLI2, TS_CLOSE, TS_SYN_SENT), 300, "wget");
	e.sport = 0;
	evs[n++] = e;
	e = ev(EV_STATE, c + MS(1), SK3, &CLI2, TS_SYN_SENT, TS_CLOSE);
	e.err = ECONNREFUSED;
	evs[n++] = e;

	for (int i = 0; i < 4; i++) {
		int type = i == 0 ? EV_REQ_START : i == 3 ? EV_REQ_CANCEL : EV_REQ_EXPIRE;

		e = ev(type, d + SEC(i), REQ2, &SRV6, 0, TS_NEW_SYN_RECV);
		e.aux = LSK;
		e.retrans = i < 3 ? i : 2;
		evs[n++] = e;
	}

	e = proc(ev(EV_STATE, f, SK4, &CLI6, TS_CLOSE, TS_SYN_SENT), 400, "ssh");
	e.sport = 0;
	evs[n++] = e;
	evs[n++] = ev(EV_STATE, f + MS(20), SK4, &CLI6, TS_SYN_SENT, TS_ESTABLISHED);
	e = ev(EV_STATE, f + SEC(5), SK4, &CLI6, TS_ESTABLISHED, TS_CLOSE);
	e.err = ECONNRESET;
	evs[n++] = e;
	return n;
}

/* ---- recordings ---- */

static struct rec_header sample_header(void)
{
	struct rec_header h;

	memset(&h, 0, sizeof(h));
	strncpy(h.host, "lab-host-1", sizeof(h.host) - 1);
	strncpy(h.kernel, "6.1.0-18-amd64", sizeof(h.kernel) - 1);
	h.wall_offset_ns = 1700000000123456789LL;
	h.start_ns = S0 - SEC(1);
	return h;
}

/* Record n events to path, flushing every flush_every (0: never); false on any error. */
static bool record(const char *path, const struct rec_header *h, const struct event *evs, int n,
		   int flush_every)
{
	char err[ERRLEN];
	struct recorder *r = recorder_open(path, h, err, sizeof(err));

	if (!ASSERT_OK_PTR(r, err))
		return false;
	for (int i = 0; i < n; i++) {
		if (!ASSERT_OK(recorder_write(r, &evs[i]), "recorder_write"))
			break;
		if (flush_every && (i + 1) % flush_every == 0 &&
		    !ASSERT_OK(recorder_flush(r), "recorder_flush"))
			break;
	}
	return ASSERT_OK(recorder_close(r), "recorder_close");
}

/* Record to a scratch file and return its bytes (malloc'd), NULL on error. */
static uint8_t *record_mem(const struct rec_header *h, const struct event *evs, int n,
			   int flush_every, size_t *len)
{
	char path[512];

	tmp_path(path, sizeof(path), "scratch");
	if (!record(path, h, evs, n, flush_every))
		return NULL;
	return slurp(path, len);
}

/*
 * Drain an open replay into out (up to cap events; more are counted and
 * dropped): replay_next's final result (0 or -1), *n the events returned.
 */
static int drain(struct replay *r, struct event *out, int cap, int *n, char *err)
{
	struct event e;
	int rc;

	*n = 0;
	err[0] = 0;
	while ((rc = replay_next(r, &e, err, ERRLEN)) == 1) {
		if (*n < cap)
			out[*n] = e;
		++*n;
	}
	return rc;
}

/*
 * Replay len bytes at buf: 0 clean end, -1 error in replay_next, -2 error
 * in replay_open; *n events returned before it, the reason in err.
 */
static int replay_buf(const void *buf, size_t len, struct event *out, int cap, int *n, char *err)
{
	struct replay *r = replay_open_mem(buf, len, NULL, err, ERRLEN);
	int rc;

	*n = 0;
	if (!r)
		return -2;
	rc = drain(r, out, cap, n, err);
	replay_close(r);
	return rc;
}

static int replay_file(const char *path, struct event *out, int cap, int *n, char *err)
{
	struct replay *r = replay_open(path, NULL, err, ERRLEN);
	int rc;

	*n = 0;
	if (!r)
		return -2;
	rc = drain(r, out, cap, n, err);
	replay_close(r);
	return rc;
}

static bool one_line(const char *err)
{
	return err[0] && !strchr(err, '\n');
}

/* ---- tests ---- */

static void test_crc32(void)
{
	ASSERT_EQ(rec_crc32(0, "123456789", 9), 0xcbf43926u, "check value");
	ASSERT_EQ(rec_crc32(rec_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u, "chained");
	ASSERT_EQ(rec_crc32(0, "", 0), 0, "empty");
}

static void test_round_trip(void)
{
	enum { N = 20000 };
	struct event *in = calloc(N, sizeof(*in)), *out = calloc(N, sizeof(*out));
	struct rec_header h = sample_header();
	char path[512], err[ERRLEN];
	int n, rc, types[EV_TYPE_MAX] = { 0 }, fams[2] = { 0 };
	struct stat st;

	if (!ASSERT_OK_PTR(in, "calloc") || !ASSERT_OK_PTR(out, "calloc"))
		goto out;
	tmp_path(path, sizeof(path), "many");

	if (SUBTEST("many")) {
		for (int i = 0; i < N; i++) {
			in[i] = rnd_event();
			types[in[i].type]++;
			fams[in[i].family == AF_INET6]++;
		}
		for (int t = EV_STATE; t < EV_TYPE_MAX; t++)
			ASSERT_GT(types[t], 1000, "every type");
		ASSERT_GT(fams[0], 5000, "IPv4");
		ASSERT_GT(fams[1], 5000, "IPv6");
		/* odd flushes: blocks both full (64 KiB) and small */
		if (record(path, &h, in, N, 4999)) {
			rc = replay_file(path, out, N, &n, err);
			ASSERT_OK(rc, err);
			ASSERT_EQ(n, N, "events");
			for (int i = 0; i < N && i < n; i++)
				if (!ASSERT_OK(memcmp(&in[i], &out[i], sizeof(in[i])), "event")) {
					printf("  at event %d\n", i);
					break;
				}
			ASSERT_OK(stat(path, &st), "stat");
			ASSERT_LT(st.st_size, (long long)N * sizeof(struct event) * 3 / 4,
				  "compact");
		}
	}

	if (SUBTEST("scenario")) {
		int m = scenario(in);
		size_t len;
		uint8_t *buf = record_mem(&h, in, m, 0, &len);

		if (ASSERT_OK_PTR(buf, "record")) {
			ASSERT_OK(replay_buf(buf, len, out, N, &n, err), err);
			ASSERT_EQ(n, m, "events");
			ASSERT_OK(memcmp(in, out, m * sizeof(*in)), "events equal");
			/* typical events, IPv4 and IPv6: well under the raw 120 bytes */
			ASSERT_LT(len, HDR_LEN + 2 * BLK_HDR + 8 + (size_t)m * 64, "compact");
		}
		free(buf);
	}

	if (SUBTEST("extremes")) {
		struct event e[4];

		memset(e, 0xff, sizeof(e)); /* every field at its widest */
		for (int i = 0; i < 4; i++) {
			/* not a field: the struct's tail padding, read back as 0 */
			memset(e[i].comm + TASK_COMM_LEN, 0, offsetof(struct event, cgroup) - TAIL);
			e[i].type = EV_TYPE_MAX - 1;
			e[i].family = AF_INET6;
			e[i].oldstate = e[i].newstate = TS_MAX_STATES - 1;
			memset(e[i].pad, 0, sizeof(e[i].pad));
		}
		memset(&e[1], 0, sizeof(e[1])); /* every field zero */
		e[1].type = EV_STATE;
		e[1].family = AF_INET;
		e[2].family = AF_INET;
		memset(e[2].saddr + 4, 0, 12);
		memset(e[2].daddr + 4, 0, 12);
		memset(e[3].saddr, 0, 15); /* ::1 */
		if (record(path, &h, e, 4, 0)) {
			ASSERT_OK(replay_file(path, out, N, &n, err), err);
			ASSERT_EQ(n, 4, "events");
			ASSERT_OK(memcmp(e, out, sizeof(e)), "events equal");
		}
	}

	if (SUBTEST("normalized")) {
		struct event e = rnd_event();

		memcpy(e.comm, "ab\0garbage-here", 16); /* ring buffer leftovers */
		memset(e.pad, 0x5a, sizeof(e.pad));
		if (record(path, &h, &e, 1, 0)) {
			ASSERT_OK(replay_file(path, out, N, &n, err), err);
			ASSERT_EQ(n, 1, "events");
			memset(e.pad, 0, sizeof(e.pad));
			memset(e.comm + 2, 0, 14);
			ASSERT_OK(memcmp(&e, &out[0], sizeof(e)), "pad and comm tail zero");
		}
	}

	if (SUBTEST("no events")) {
		struct replay *r;
		struct event e;

		if (record(path, &h, NULL, 0, 0)) {
			r = replay_open(path, NULL, err, sizeof(err));
			if (ASSERT_OK_PTR(r, err)) {
				ASSERT_EQ(replay_next(r, &e, err, sizeof(err)), 0, "end");
				ASSERT_EQ(replay_next(r, &e, err, sizeof(err)), 0, "end again");
			}
			replay_close(r);
			ASSERT_OK(stat(path, &st), "stat");
			ASSERT_EQ(st.st_size, HDR_LEN + BLK_HDR + 8, "header + end marker");
		}
	}

	if (SUBTEST("invalid event refused")) {
		struct recorder *r = recorder_open(path, &h, err, sizeof(err));
		struct event bad[4];

		for (int i = 0; i < 4; i++)
			bad[i] = ev(EV_STATE, S0, SK1, &CLI, TS_CLOSE, TS_SYN_SENT);
		bad[0].type = EV_TYPE_MAX;
		bad[1].family = AF_UNIX;
		bad[2].newstate = TS_MAX_STATES;
		bad[3].saddr[4] = 1; /* IPv4 with more than 4 bytes */
		if (ASSERT_OK_PTR(r, err)) {
			for (int i = 0; i < 4; i++)
				ASSERT_EQ(recorder_write(r, &bad[i]), -EINVAL, "bad event");
			ASSERT_OK(recorder_write(r, &in[0]), "good event still taken");
			ASSERT_OK(recorder_close(r), "close");
			ASSERT_OK(replay_file(path, out, N, &n, err), err);
			ASSERT_EQ(n, 1, "only the good event");
		}
	}
out:
	free(in);
	free(out);
}

/*
 * Format 2 once carried the CPU that sent an event (descriptor bit 15, one
 * byte after the other scalars); struct event has it no more: a recording
 * that holds it replays the same, the byte skipped.
 */
static void test_old_cpu(void)
{
	struct rec_header h = { .host = "h", .kernel = "k" };
	struct event e = { .ts_ns = 7, .type = EV_STATE, .family = AF_INET, .flags = 1 };
	struct event out[2];
	size_t len, rec = HDR_LEN + BLK_HDR;
	uint8_t *buf = record_mem(&h, &e, 1, 0, &len), *old;
	char err[ERRLEN];
	uint32_t desc, blen;
	int n;

	if (!ASSERT_OK_PTR(buf, "record"))
		return;
	/* the one record: descriptor, type, family, ts (8), flags (1) */
	blen = buf[HDR_LEN] | buf[HDR_LEN + 1] << 8;
	old = calloc(1, len + 1);
	if (ASSERT_EQ(blen, 6 + 8 + 1, "record length") && ASSERT_OK_PTR(old, "calloc")) {
		memcpy(old, buf, rec + blen);
		old[rec + blen] = 3; /* the CPU, last of the scalars */
		memcpy(old + rec + blen + 1, buf + rec + blen, len - rec - blen);
		old[HDR_LEN] = blen + 1;
		desc = old[rec] | old[rec + 1] << 8 | 1u << 15;
		old[rec] = desc;
		old[rec + 1] = desc >> 8;
		ASSERT_GT(rec_fix_checksums(old, len + 1), 0, "checksums");
		ASSERT_OK(replay_buf(old, len + 1, out, 2, &n, err), err);
		if (ASSERT_EQ(n, 1, "events"))
			ASSERT_OK(memcmp(&e, &out[0], sizeof(e)), "cpu skipped, the rest the same");
	}
	free(old);
	free(buf);
}

static void test_header(void)
{
	struct rec_header h = sample_header(), got;
	char path[512], err[ERRLEN];
	struct replay *r;

	tmp_path(path, sizeof(path), "header");
	if (SUBTEST("fields")) {
		h.wall_offset_ns = -42; /* a clock set before the epoch */
		h.start_ns = UINT64_MAX;
		h.version = 77; /* ignored by the writer */
		h.event_size = 3;
		memset(&got, 0xff, sizeof(got));
		if (record(path, &h, NULL, 0, 0)) {
			r = replay_open(path, &got, err, sizeof(err));
			if (ASSERT_OK_PTR(r, err)) {
				ASSERT_STREQ(got.host, "lab-host-1", "host");
				ASSERT_STREQ(got.kernel, "6.1.0-18-amd64", "kernel");
				ASSERT_EQ(got.wall_offset_ns, -42, "wall offset");
				ASSERT_TRUE(got.start_ns == UINT64_MAX, "start");
				ASSERT_EQ(got.version, REC_VERSION, "version");
				ASSERT_EQ(got.event_size, sizeof(struct event), "event size");
			}
			replay_close(r);
		}
	}

	if (SUBTEST("long names")) {
		memset(h.host, 'h', sizeof(h.host)); /* no NUL at all */
		memset(h.kernel, 'k', sizeof(h.kernel) - 1);
		h.kernel[sizeof(h.kernel) - 1] = 0;
		if (record(path, &h, NULL, 0, 0)) {
			r = replay_open(path, &got, err, sizeof(err));
			if (ASSERT_OK_PTR(r, err)) {
				ASSERT_EQ(strlen(got.host), REC_NAME_LEN - 1, "host cut");
				ASSERT_EQ(strlen(got.kernel), REC_NAME_LEN - 1, "kernel");
			}
			replay_close(r);
		}
	}

	if (SUBTEST("rec_header_init")) {
		struct timespec mono, wall;
		struct utsname u;
		int64_t off;

		rec_header_init(&h);
		clock_gettime(CLOCK_MONOTONIC, &mono);
		clock_gettime(CLOCK_REALTIME, &wall);
		off = (int64_t)(wall.tv_sec - mono.tv_sec) * 1000000000LL +
		      (wall.tv_nsec - mono.tv_nsec);
		ASSERT_OK(uname(&u), "uname");
		ASSERT_OK(strncmp(h.host, u.nodename, REC_NAME_LEN - 1), "host");
		ASSERT_STREQ(h.kernel, u.release, "kernel");
		ASSERT_LT(llabs(h.wall_offset_ns - off), MS(100), "wall offset");
		ASSERT_LE(h.start_ns, (uint64_t)mono.tv_sec * SEC(1) + mono.tv_nsec, "start");
		ASSERT_EQ(h.version, REC_VERSION, "version");
		ASSERT_EQ(h.event_size, 128, "event size");
	}
}

static void test_golden(void)
{
	/*
	 * One IPv4 event as documented in record.c, built by hand (and checked
	 * with Python's zlib.crc32): any change here is a format change.
	 */
	/* clang-format off */
	static const uint8_t want[] = {
		/* header: magic, version 2, length 168, event size 128 */
		'T', 'C', 'P', 'P', 'H', 'A', 'S', 'E',
		0x02, 0x00, 0x00, 0x00, 0xa8, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00,
		/* start 0x0102030405060708, wall offset -1 */
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff,
		/* then host "h" and kernel "k", NUL-padded to 64 bytes each */
	};
	static const uint8_t want_tail[] = {
		/* header checksum */
		0xd3, 0x8b, 0x9c, 0x02,
		/* block: 45 bytes, 1 record, checksum */
		0x2d, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xc6, 0xeb, 0xfc, 0x6a,
		/* descriptor: ts id pid sport dport oldstate newstate flags, lengths 4 4 4 */
		0x23, 0x5e, 0x84, 0x10,
		0x01, 0x02,					/* EV_STATE, AF_INET */
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,	/* ts */
		0x00, 0x00, 0x00, 0x01, 0x80, 0x88, 0xff, 0xff,	/* id */
		0x64, 0x00, 0x00, 0x00,				/* pid 100 */
		0x40, 0x9c, 0x50, 0x00,				/* ports 40000, 80 */
		0x07, 0x02, 0x01,				/* CLOSE -> SYN_SENT, flags */
		10, 0, 0, 1, 10, 0, 0, 2, 'c', 'u', 'r', 'l',
		/* end marker: 8 bytes, 0 records, checksum, 1 record in all */
		0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x84, 0xd4, 0x02, 0x53,
		0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	/* clang-format on */
	struct rec_header h = { .host = "h", .kernel = "k" };
	struct event e = proc(ev(EV_STATE, 0x1122334455667788ULL, SK1, &CLI, TS_CLOSE, TS_SYN_SENT),
			      100, "curl");
	size_t len;
	uint8_t *buf;

	h.start_ns = 0x0102030405060708ULL;
	h.wall_offset_ns = -1;
	e.netns = 0;
	buf = record_mem(&h, &e, 1, 0, &len);
	if (!ASSERT_OK_PTR(buf, "record"))
		return;
	if (ASSERT_EQ(len, HDR_LEN - 4 + sizeof(want_tail), "length")) {
		ASSERT_OK(memcmp(buf, want, sizeof(want)), "header start");
		ASSERT_TRUE(buf[36] == 'h' && buf[100] == 'k', "names");
		for (int i = sizeof(want); i < HDR_LEN - 4; i++)
			if (i != 36 && i != 100 && !ASSERT_EQ(buf[i], 0, "padding"))
				break;
		ASSERT_OK(memcmp(buf + HDR_LEN - 4, want_tail, sizeof(want_tail)), "blocks");
	}
	free(buf);
}

static void test_file_mode(void)
{
	struct rec_header h = sample_header();
	char path[512], target[512], err[ERRLEN];
	struct recorder *r;
	struct stat st;
	mode_t old;
	int fd;

	if (SUBTEST("created 0600")) {
		tmp_path(path, sizeof(path), "mode_new");
		old = umask(0);
		r = recorder_open(path, &h, err, sizeof(err));
		umask(old);
		if (ASSERT_OK_PTR(r, err)) {
			ASSERT_OK(recorder_close(r), "close");
			ASSERT_OK(stat(path, &st), "stat");
			ASSERT_EQ(st.st_mode & 07777, 0600, "mode");
		}
	}

	if (SUBTEST("existing file made 0600")) {
		tmp_path(path, sizeof(path), "mode_old");
		old = umask(0);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		umask(old);
		if (ASSERT_GE(fd, 0, "create"))
			close(fd);
		r = recorder_open(path, &h, err, sizeof(err));
		if (ASSERT_OK_PTR(r, err)) {
			ASSERT_OK(recorder_close(r), "close");
			ASSERT_OK(stat(path, &st), "stat");
			ASSERT_EQ(st.st_mode & 07777, 0600, "mode");
		}
	}

	if (SUBTEST("symlink refused")) {
		tmp_path(path, sizeof(path), "link");
		tmp_path(target, sizeof(target), "link_target");
		ASSERT_OK(symlink(target, path), "symlink");
		r = recorder_open(path, &h, err, sizeof(err));
		ASSERT_NULL(r, "recorder_open");
		recorder_close(r);
		ASSERT_TRUE(strstr(err, "symbolic link") && strstr(err, path), err);
		ASSERT_ERR(stat(target, &st), "target not created");
	}

	if (SUBTEST("unwritable path")) {
		r = recorder_open("/proc/nonexistent/x", &h, err, sizeof(err));
		ASSERT_NULL(r, "recorder_open");
		recorder_close(r);
		ASSERT_STREQ(err, "/proc/nonexistent/x: cannot record: No such file or directory",
			     "reason");
	}

	if (SUBTEST("path shown on one line")) {
		r = recorder_open("/proc/nonexistent/a\nb", &h, err, sizeof(err));
		ASSERT_NULL(r, "recorder_open");
		ASSERT_TRUE(one_line(err) && strstr(err, "/proc/nonexistent/a?b: "), err);
	}

	if (SUBTEST("disk full") && !access("/dev/full", W_OK)) {
		r = recorder_open("/dev/full", &h, err, sizeof(err));
		ASSERT_NULL(r, "recorder_open");
		recorder_close(r);
		ASSERT_STREQ(err, "/dev/full: cannot record: No space left on device", "reason");
	}

	if (SUBTEST("err may be NULL")) {
		ASSERT_NULL(recorder_open("/proc/nonexistent/x", &h, NULL, 0), "recorder_open");
		ASSERT_NULL(replay_open("/proc/nonexistent/x", NULL, NULL, 0), "replay_open");
	}
}

static void test_write_errors(void)
{
	struct rec_header h = sample_header();
	struct event e = ev(EV_STATE, S0, SK1, &CLI, TS_CLOSE, TS_SYN_SENT);
	char path[512], err[ERRLEN];
	struct recorder *r;
	int rfd;

	/* a pipe whose reader went away: EPIPE, then the same error for good */
	tmp_path(path, sizeof(path), "fifo");
	if (!ASSERT_OK(mkfifo(path, 0600), "mkfifo"))
		return;
	rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (!ASSERT_GE(rfd, 0, "open reader"))
		return;
	r = recorder_open(path, &h, err, sizeof(err));
	close(rfd);
	if (!ASSERT_OK_PTR(r, err))
		return;
	signal(SIGPIPE, SIG_IGN);
	ASSERT_OK(recorder_write(r, &e), "buffered write");
	ASSERT_EQ(recorder_flush(r), -EPIPE, "flush: EPIPE");
	ASSERT_EQ(recorder_write(r, &e), -EPIPE, "sticky on write");
	ASSERT_EQ(recorder_flush(r), -EPIPE, "sticky on flush");
	ASSERT_EQ(recorder_close(r), -EPIPE, "close");
	ASSERT_OK(recorder_close(NULL), "close NULL");
	replay_close(NULL);
}

/* A small recording in 3 blocks, for the cut and flip tests. */
static uint8_t *small_recording(size_t *len, int *nevents)
{
	struct rec_header h = sample_header();
	struct event evs[64];

	scenario(evs);
	*nevents = 5; /* the IPv4 client up to FIN_WAIT2: blocks of 2, 2, 1 */
	return record_mem(&h, evs, *nevents, 2, len);
}

/* Count a cut file not reported as truncated; show the first one. */
static void cut_failed(int *bad, size_t cut, int rc, const char *err)
{
	if (!(*bad)++)
		unit_fail(__FILE__, __LINE__, "cut at %zu: rc %d, \"%s\"", cut, rc, err);
}

static void test_truncated(void)
{
	char path[512], err[ERRLEN];
	struct event out[8];
	int n, nev, rc, bad = 0;
	uint8_t *buf;
	size_t len;

	buf = small_recording(&len, &nev);
	if (!ASSERT_OK_PTR(buf, "record"))
		return;
	ASSERT_OK(replay_buf(buf, len, out, 8, &n, err), err);
	ASSERT_EQ(n, nev, "whole file");

	if (SUBTEST("every length, in memory")) {
		for (size_t cut = 0; cut < len; cut++) {
			/* exactly cut bytes: ASan sees any overread */
			uint8_t *copy = malloc(cut ? cut : 1);

			memcpy(copy, buf, cut);
			rc = replay_buf(copy, cut, out, 8, &n, err);
			free(copy);
			if (rc == 0 || !one_line(err) ||
			    !strstr(err, cut ? "truncated at byte " : "empty file"))
				cut_failed(&bad, cut, rc, err);
		}
		ASSERT_EQ(bad, 0, "cuts not reported truncated");
	}

	if (SUBTEST("every length, on disk")) {
		tmp_path(path, sizeof(path), "cut");
		bad = 0;
		for (size_t cut = 0; cut < len; cut++) {
			char want[600];

			if (!ASSERT_TRUE(spew(path, buf, cut), "write cut file"))
				break;
			rc = replay_file(path, out, 8, &n, err);
			if (cut)
				snprintf(want, sizeof(want), "%s: truncated at byte %zu", path,
					 cut);
			else
				snprintf(want, sizeof(want), "%s: empty file", path);
			if (rc == 0 || strncmp(err, want, strlen(want)) || !one_line(err))
				cut_failed(&bad, cut, rc, err);
			ASSERT_LE(n, nev, "events before the cut");
		}
		ASSERT_EQ(bad, 0, "cuts not reported truncated");
	}

	if (SUBTEST("at a block boundary: no end marker")) {
		/* the end marker is the last 20 bytes */
		rc = replay_buf(buf, len - 20, out, 8, &n, err);
		ASSERT_EQ(rc, -1, "error after the events");
		ASSERT_EQ(n, nev, "every event first");
		ASSERT_TRUE(strstr(err, "no end marker"), err);
	}
	free(buf);
}

static void test_unclosed(void)
{
	struct rec_header h = sample_header();
	struct event evs[64], out[64];
	char path[512], err[ERRLEN];
	int m = scenario(evs), n;
	struct recorder *r;
	uint8_t *snap;
	size_t len;

	/* what a killed tcpphase leaves: flushed blocks, no end marker */
	tmp_path(path, sizeof(path), "unclosed");
	r = recorder_open(path, &h, err, sizeof(err));
	if (!ASSERT_OK_PTR(r, err))
		return;
	for (int i = 0; i < m; i++)
		recorder_write(r, &evs[i]);
	ASSERT_OK(recorder_flush(r), "flush");
	snap = slurp(path, &len);
	ASSERT_OK(recorder_close(r), "close");
	if (!ASSERT_OK_PTR(snap, "slurp"))
		return;
	ASSERT_EQ(replay_buf(snap, len, out, 64, &n, err), -1, "error");
	ASSERT_EQ(n, m, "every flushed event first");
	ASSERT_TRUE(strstr(err, "truncated") && strstr(err, "no end marker"), err);
	free(snap);
}

static void test_corrupt(void)
{
	struct event out[8];
	char err[ERRLEN];
	int n, nev, rc, bad = 0;
	uint8_t *buf, *copy;
	size_t len;

	buf = small_recording(&len, &nev);
	if (!ASSERT_OK_PTR(buf, "record"))
		return;
	copy = malloc(len);

	if (SUBTEST("every byte flipped")) {
		for (size_t i = 0; i < len; i++) {
			for (int k = 0; k < 3; k++) {
				static const uint8_t masks[] = { 0x01, 0x80, 0xff };

				memcpy(copy, buf, len);
				copy[i] ^= masks[k];
				rc = replay_buf(copy, len, out, 8, &n, err);
				if (rc == 0 || !one_line(err)) {
					if (!bad++)
						unit_fail(__FILE__, __LINE__,
							  "byte %zu ^ %#x: rc %d, \"%s\"", i,
							  masks[k], rc, err);
				}
			}
		}
		ASSERT_EQ(bad, 0, "flips not detected");
	}

	/*
	 * Corrupt a field, then fix the checksums: the field checks must catch
	 * it. The first record starts after the header and a block header.
	 */
	char want_type[128];
	struct {
		const char *name;
		size_t off; /* from the first record */
		uint8_t val;
		const char *want;
	} fields[] = {
		{ "type", 4, EV_TYPE_MAX, want_type },
		{ "type 0", 4, 0, "event type 0 out of range" },
		{ "family", 5, 3, "address family 3 is neither AF_INET nor AF_INET6" },
		{ "length", 2, 0xff, "field length" },
	};

	snprintf(want_type, sizeof(want_type),
		 "<memory>: corrupt record at byte 180: event type %d out of range (1-%d)",
		 EV_TYPE_MAX, EV_TYPE_MAX - 1);
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		SUBTEST(fields[f].name);
		memcpy(copy, buf, len);
		copy[HDR_LEN + BLK_HDR + fields[f].off] = fields[f].val;
		ASSERT_GT(rec_fix_checksums(copy, len), 2, "checksums fixed");
		rc = replay_buf(copy, len, out, 8, &n, err);
		ASSERT_EQ(rc, -1, "error");
		ASSERT_EQ(n, 0, "no event");
		ASSERT_TRUE(strstr(err, fields[f].want) && one_line(err), err);
	}

	if (SUBTEST("single record fields")) {
		struct rec_header h = sample_header();
		struct event e = ev(EV_STATE, 0, 0, &CLI, 0, 0);
		uint8_t *one;
		size_t olen;

		e.netns = e.sport = e.dport = 0; /* the states are the first scalars */
		e.oldstate = 1;
		e.newstate = 2;
		one = record_mem(&h, &e, 1, 0, &olen);
		if (ASSERT_OK_PTR(one, "record")) {
			one[HDR_LEN + BLK_HDR + 6] = TS_MAX_STATES;
			rec_fix_checksums(one, olen);
			ASSERT_EQ(replay_buf(one, olen, out, 8, &n, err), -1, "old state");
			ASSERT_TRUE(strstr(err, "old TCP state 13 out of range (0-12)"), err);
			one[HDR_LEN + BLK_HDR + 6] = 1;
			one[HDR_LEN + BLK_HDR + 7] = 255;
			rec_fix_checksums(one, olen);
			ASSERT_EQ(replay_buf(one, olen, out, 8, &n, err), -1, "new state");
			ASSERT_TRUE(strstr(err, "new TCP state 255 out of range"), err);
		}
		free(one);
		e = ev(EV_STATE, 0, 0, &SRV6, 0, 0);
		one = record_mem(&h, &e, 1, 0, &olen);
		if (ASSERT_OK_PTR(one, "record")) {
			one[HDR_LEN + BLK_HDR + 5] = AF_INET;
			rec_fix_checksums(one, olen);
			ASSERT_EQ(replay_buf(one, olen, out, 8, &n, err), -1, "v4 with v6 address");
			ASSERT_TRUE(strstr(err, "IPv4 address longer than 4 bytes"), err);
		}
		free(one);
	}

	if (SUBTEST("block count")) {
		/* 2 records claimed, 3 present: bytes left after the last one */
		memcpy(copy, buf, len);
		copy[HDR_LEN + 4] = 1;
		rec_fix_checksums(copy, len);
		ASSERT_EQ(replay_buf(copy, len, out, 8, &n, err), -1, "error");
		ASSERT_TRUE(strstr(err, "bytes after its last record"), err);
		copy[HDR_LEN + 4] = 3;
		rec_fix_checksums(copy, len);
		ASSERT_EQ(replay_buf(copy, len, out, 8, &n, err), -1, "error");
		ASSERT_TRUE(strstr(err, "runs past the end of its block"), err);
		copy[HDR_LEN + 4] = 0; /* an end marker of the wrong size */
		rec_fix_checksums(copy, len);
		ASSERT_EQ(replay_buf(copy, len, out, 8, &n, err), -1, "error");
		ASSERT_TRUE(strstr(err, "corrupt block header at byte 168"), err);
	}

	if (SUBTEST("end marker count")) {
		memcpy(copy, buf, len);
		copy[len - 8] = nev + 1;
		rec_fix_checksums(copy, len);
		ASSERT_EQ(replay_buf(copy, len, out, 8, &n, err), -1, "error");
		ASSERT_TRUE(strstr(err, "6 records, not 5"), err);
	}

	if (SUBTEST("data after the end")) {
		uint8_t *longer = malloc(len + 1);

		memcpy(longer, buf, len);
		longer[len] = 0;
		ASSERT_EQ(replay_buf(longer, len + 1, out, 8, &n, err), -1, "error");
		ASSERT_EQ(n, nev, "events");
		ASSERT_TRUE(strstr(err, "unexpected data after the end marker"), err);
		free(longer);
	}

	if (SUBTEST("header")) {
		memcpy(copy, buf, len);
		copy[40] ^= 1; /* host name */
		ASSERT_EQ(replay_buf(copy, len, out, 8, &n, err), -2, "checksum");
		ASSERT_STREQ(err, "<memory>: corrupt header (checksum mismatch)", "message");
		memcpy(copy, buf, len);
		copy[HDR_LEN - 4 - 64] = 'x'; /* kernel name fills its 64 bytes */
		memset(copy + HDR_LEN - 4 - 63, 'x', 63);
		rec_fix_checksums(copy, len);
		ASSERT_EQ(replay_buf(copy, len, out, 8, &n, err), -2, "unterminated");
		ASSERT_TRUE(strstr(err, "not terminated"), err);
		memcpy(copy, buf, len);
		copy[16] = 119; /* event size */
		rec_fix_checksums(copy, len);
		ASSERT_EQ(replay_buf(copy, len, out, 8, &n, err), -2, "event size");
		ASSERT_TRUE(strstr(err, "event size 119, expected 128"), err);
		memcpy(copy, buf, len);
		copy[12] = 100; /* header length */
		ASSERT_EQ(replay_buf(copy, len, out, 8, &n, err), -2, "header length");
		ASSERT_TRUE(strstr(err, "corrupt header (length 100)"), err);
	}

	if (SUBTEST("fix_checksums on anything")) {
		uint8_t junk[300];

		for (int i = 0; i < 1000; i++) {
			size_t jl = rnd() % sizeof(junk);

			for (size_t j = 0; j < jl; j++)
				junk[j] = rnd();
			if (jl >= 16 && i & 1) {
				memcpy(junk, REC_MAGIC, 8);
				junk[12] = HDR_LEN;
				junk[13] = 0;
				junk[14] = 0;
				junk[15] = 0;
			}
			rec_fix_checksums(junk, jl);
			replay_buf(junk, jl, out, 8, &n, err);
		}
		ASSERT_EQ(rec_fix_checksums(NULL, 0), 0, "NULL");
	}
	free(copy);
	free(buf);
}

static void test_versions(void)
{
	char path[512], want[600], err[ERRLEN];
	struct event out[8];
	int n, nev;
	uint8_t *buf;
	size_t len;

	buf = small_recording(&len, &nev);
	if (!ASSERT_OK_PTR(buf, "record"))
		return;
	tmp_path(path, sizeof(path), "future");

	if (SUBTEST("version 1 read, cgroup 0")) {
		uint8_t *v1 = malloc(len);

		ASSERT_OK_PTR(v1, "copy");
		if (v1) {
			memcpy(v1, buf, len);
			v1[8] = 1;
			v1[16] = 120; /* version 1's event size */
			rec_fix_checksums(v1, len);
			ASSERT_OK(replay_buf(v1, len, out, 8, &n, err), err);
			ASSERT_EQ(n, nev, "events");
			for (int i = 0; i < n; i++)
				ASSERT_EQ(out[i].cgroup, 0, "no cgroup");
			v1[16] = 128;
			rec_fix_checksums(v1, len);
			ASSERT_EQ(replay_buf(v1, len, out, 8, &n, err), -2, "v1 with v2's size");
			ASSERT_TRUE(strstr(err, "event size 128, expected 120"), err);
			/* bit 31 of a descriptor is reserved in version 1 */
			v1[16] = 120;
			v1[HDR_LEN + BLK_HDR + 3] |= 0x80;
			rec_fix_checksums(v1, len);
			ASSERT_EQ(replay_buf(v1, len, out, 8, &n, err), -1, "reserved bit");
			ASSERT_TRUE(strstr(err, "reserved descriptor bit set"), err);
			free(v1);
		}
	}

	if (SUBTEST("cgroup id carried")) {
		struct rec_header h = sample_header();
		struct event e[2] = { ev(EV_STATE, 1000, SK1, &CLI, TS_CLOSE, TS_SYN_SENT),
				      ev(EV_STATE, 2000, SK1, &CLI, TS_SYN_SENT, TS_ESTABLISHED) };
		uint8_t *b;
		size_t blen;

		e[0].cgroup = 0x0123456789abcdefULL;
		e[1].cgroup = 7;
		b = record_mem(&h, e, 2, 0, &blen);
		if (ASSERT_OK_PTR(b, "record")) {
			ASSERT_OK(replay_buf(b, blen, out, 8, &n, err), err);
			ASSERT_EQ(n, 2, "events");
			ASSERT_EQ(out[0].cgroup, 0x0123456789abcdefULL, "cgroup 0");
			ASSERT_EQ(out[1].cgroup, 7, "cgroup 1");
			ASSERT_OK(memcmp(e, out, sizeof(e)), "events equal");
			free(b);
		}
	}

	if (SUBTEST("future version")) {
		buf[8] = 3;
		if (ASSERT_TRUE(spew(path, buf, len), "write")) {
			ASSERT_EQ(replay_file(path, out, 8, &n, err), -2, "refused");
			snprintf(want, sizeof(want), "%s: %s", path,
				 "format version 3 is newer than this tcpphase supports (2)");
			ASSERT_STREQ(err, want, "message");
		}
	}

	if (SUBTEST("far future, any header")) {
		/* a newer version may change everything after the version field */
		memset(buf + 12, 0xee, len - 12);
		memset(buf + 8, 0xff, 4);
		ASSERT_EQ(replay_buf(buf, 16, out, 8, &n, err), -2, "refused");
		ASSERT_STREQ(err,
			     "<memory>: format version 4294967295 is newer than this tcpphase "
			     "supports (2)",
			     "message");
	}

	if (SUBTEST("version 0")) {
		memset(buf + 8, 0, 4);
		ASSERT_EQ(replay_buf(buf, len, out, 8, &n, err), -2, "refused");
		ASSERT_STREQ(err, "<memory>: corrupt header (format version 0)", "message");
	}
	free(buf);
}

static void test_foreign(void)
{
	char path[512], want[600], err[ERRLEN];
	struct event out[8];
	int n;

	tmp_path(path, sizeof(path), "foreign");

	if (SUBTEST("empty file")) {
		spew(path, "", 0);
		ASSERT_EQ(replay_file(path, out, 8, &n, err), -2, "refused");
		snprintf(want, sizeof(want), "%s: empty file, not a tcpphase recording", path);
		ASSERT_STREQ(err, want, "message");
	}

	if (SUBTEST("text file")) {
		spew(path, "hello, world\n", 13);
		ASSERT_EQ(replay_file(path, out, 8, &n, err), -2, "refused");
		snprintf(want, sizeof(want), "%s: not a tcpphase recording", path);
		ASSERT_STREQ(err, want, "message");
	}

	if (SUBTEST("magic alone")) {
		ASSERT_EQ(replay_buf("TCPPHAS", 7, out, 8, &n, err), -2, "short");
		ASSERT_STREQ(err, "<memory>: truncated at byte 7", "message");
		ASSERT_EQ(replay_buf("TCPPHASX", 8, out, 8, &n, err), -2, "wrong");
		ASSERT_STREQ(err, "<memory>: not a tcpphase recording", "message");
		ASSERT_EQ(replay_buf("X", 1, out, 8, &n, err), -2, "one byte");
		ASSERT_EQ(replay_buf(NULL, 0, out, 8, &n, err), -2, "NULL");
	}

	if (SUBTEST("no such file")) {
		tmp_path(path, sizeof(path), "missing");
		ASSERT_EQ(replay_file(path, out, 8, &n, err), -2, "refused");
		snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
		ASSERT_STREQ(err, want, "message");
	}

	if (SUBTEST("directory")) {
		ASSERT_EQ(replay_file(tmpdir, out, 8, &n, err), -2, "refused");
		ASSERT_TRUE(strstr(err, "read error at byte 0: Is a directory"), err);
	}
}

static void test_sticky(void)
{
	struct rec_header h = sample_header();
	struct event evs[64], e;
	char err[ERRLEN], err2[ERRLEN];
	int m = scenario(evs);
	struct replay *r;
	uint8_t *buf;
	size_t len;

	buf = record_mem(&h, evs, m, 0, &len);
	if (!ASSERT_OK_PTR(buf, "record"))
		return;
	r = replay_open_mem(buf, len - 3, NULL, err, sizeof(err));
	if (ASSERT_OK_PTR(r, err)) {
		for (int i = 0; i < m; i++)
			ASSERT_EQ(replay_next(r, &e, err, sizeof(err)), 1, "event");
		ASSERT_EQ(replay_next(r, &e, err, sizeof(err)), -1, "error");
		ASSERT_EQ(replay_next(r, &e, err2, sizeof(err2)), -1, "again");
		ASSERT_STREQ(err2, err, "same message");
		ASSERT_EQ(replay_next(r, &e, NULL, 0), -1, "NULL err");
		replay_next(r, &e, err2, 10);
		ASSERT_EQ(strlen(err2), 9, "cut to errlen");
	}
	replay_close(r);
	free(buf);
}

/* ---- replaying through the connection table ---- */

struct recs {
	struct conn c[16];
	enum rec_kind kind[16];
	int n;
};

static void keep_record(void *ctx, const struct conn *c, enum rec_kind kind)
{
	struct recs *rs = ctx;

	if (rs->n < 16) {
		rs->c[rs->n] = *c;
		rs->kind[rs->n] = kind;
	}
	rs->n++;
}

/* Feed events (the same ticks as a live run would) and flush: the records in rs. */
static void run_table(struct recs *rs, const struct event *evs, int n)
{
	struct ct_config cfg = { .max_conns = 64, .on_record = keep_record, .ctx = rs };
	struct conntable *t = ct_new(&cfg);
	uint64_t now = 0;

	memset(rs, 0, sizeof(*rs));
	if (!ASSERT_OK_PTR(t, "ct_new"))
		return;
	for (int i = 0; i < n; i++) {
		ct_event(t, &evs[i]);
		if (evs[i].ts_ns > now)
			now = evs[i].ts_ns;
		ct_tick(t, now + MS(1));
	}
	ct_flush(t, now + SEC(120));
	ct_free(t);
}

static void test_replay_table(void)
{
	struct rec_header h = sample_header(), got;
	struct event evs[64], out[64];
	char path[512], err[ERRLEN];
	static struct recs live, replayed;
	int m = scenario(evs), n;
	struct replay *r;

	tmp_path(path, sizeof(path), "table");
	if (!record(path, &h, evs, m, 7))
		return;
	r = replay_open(path, &got, err, sizeof(err));
	if (!ASSERT_OK_PTR(r, err))
		return;
	ASSERT_OK(drain(r, out, 64, &n, err), err);
	replay_close(r);
	ASSERT_EQ(n, m, "events");
	run_table(&live, evs, m);
	run_table(&replayed, out, n);
	ASSERT_GE(live.n, 5, "records");
	ASSERT_EQ(replayed.n, live.n, "records");
	for (int i = 0; i < live.n && i < replayed.n && i < 16; i++) {
		const struct conn *a = &live.c[i], *b = &replayed.c[i];

		ASSERT_EQ(replayed.kind[i], live.kind[i], "kind");
		ASSERT_TRUE(a->sk == b->sk && a->tw == b->tw && a->pid == b->pid, "ids");
		ASSERT_STREQ(b->comm, a->comm, "comm");
		ASSERT_TRUE(a->role == b->role && a->result == b->result, "outcome");
		ASSERT_TRUE(a->closer == b->closer && a->tw_end == b->tw_end && a->err == b->err,
			    "ending");
		ASSERT_OK(memcmp(a->laddr, b->laddr, 16) || memcmp(a->raddr, b->raddr, 16) ||
				  a->lport != b->lport || a->rport != b->rport,
			  "tuple");
		ASSERT_TRUE(a->t_start == b->t_start && a->t_end == b->t_end, "times");
		ASSERT_OK(memcmp(a->ph, b->ph, sizeof(a->ph)), "phases");
		ASSERT_TRUE(a->tx_bytes == b->tx_bytes && a->rx_bytes == b->rx_bytes &&
				    a->retrans == b->retrans && a->srtt_us == b->srtt_us &&
				    a->syn_retrans == b->syn_retrans,
			    "counters");
		/* wall clock from the header: the offset as recorded */
		ASSERT_EQ(b->t_start + got.wall_offset_ns, a->t_start + h.wall_offset_ns, "wall");
	}
	ASSERT_EQ(live.c[0].result, RES_OK, "the client's connect succeeded");
}

/* ---- the fuzzer's seed corpus ---- */

static int write_seed(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!spew(path, buf, len)) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

/*
 * Many endpoints at once (more than the fuzzer's table holds), each left in
 * TIME_WAIT for the final flush. Fills evs (72) and returns the count.
 */
static int crowd(struct event *evs)
{
	int n = 0;

	for (int step = 0; step < 6; step++) {
		for (int i = 0; i < 12; i++) {
			static const uint8_t path[6][2] = {
				{ TS_CLOSE, TS_SYN_SENT },
				{ TS_SYN_SENT, TS_ESTABLISHED },
				{ TS_ESTABLISHED, TS_FIN_WAIT1 },
				{ TS_FIN_WAIT1, TS_FIN_WAIT2 },
				{ 0, TS_TIME_WAIT }, /* the tw sock armed */
				{ TS_FIN_WAIT2, TS_CLOSE },
			};
			uint64_t ts = S0 + SEC(step) + MS(i), sk = SK1 + ((uint64_t)i << 12);
			struct tup tp = CLI;
			struct event e;

			tp.lport += i;
			if (step == 4) {
				e = ev(EV_TW_START, ts, TW1 + i, &tp, 0, TS_TIME_WAIT);
				e.aux = ts + SEC(60);
			} else {
				e = ev(EV_STATE, ts, sk, &tp, path[step][0], path[step][1]);
				e.aux = step == 5 ? TW1 + i : 0;
			}
			evs[n++] = e;
		}
	}
	return n;
}

/* Valid recordings (scenarios, random events), and damaged copies of one. */
static int write_corpus(const char *dir)
{
	struct rec_header h = sample_header();
	struct event evs[80];
	int m = scenario(evs), rc = 0;
	uint8_t *buf;
	size_t len;

	if (mkdir(dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return 1;
	}
	buf = record_mem(&h, evs, m, 0, &len);
	if (!buf)
		return 1;
	rc |= write_seed(dir, "scenario_one_block", buf, len);
	free(buf);

	buf = record_mem(&h, evs, m, 4, &len);
	if (!buf)
		return 1;
	rc |= write_seed(dir, "scenario_blocks", buf, len);
	rc |= write_seed(dir, "truncated_mid_block", buf, len * 2 / 3);
	rc |= write_seed(dir, "no_end_marker", buf, len - BLK_HDR - 8);
	buf[HDR_LEN + BLK_HDR + 30] ^= 0x10;
	rc |= write_seed(dir, "bad_checksum", buf, len);
	rec_fix_checksums(buf, len);
	rc |= write_seed(dir, "flipped_field_fixed_checksum", buf, len);
	buf[HDR_LEN + BLK_HDR + 4] = EV_TYPE_MAX;
	rec_fix_checksums(buf, len);
	rc |= write_seed(dir, "bad_type_fixed_checksum", buf, len);
	buf[8] = 2;
	rc |= write_seed(dir, "future_version", buf, HDR_LEN);
	free(buf);

	buf = record_mem(&h, NULL, 0, 0, &len);
	if (!buf)
		return 1;
	rc |= write_seed(dir, "no_events", buf, len);
	free(buf);

	for (int i = 0; i < 40; i++)
		evs[i] = rnd_event();
	buf = record_mem(&h, evs, 40, 16, &len);
	if (!buf)
		return 1;
	rc |= write_seed(dir, "random_events", buf, len);
	free(buf);

	m = crowd(evs);
	buf = record_mem(&h, evs, m, 0, &len);
	if (!buf)
		return 1;
	rc |= write_seed(dir, "crowd", buf, len);
	free(buf);
	return rc;
}

/* Kernel addresses are renamed in recordings: one to one, none like an address. */
static void test_pointer_names(void)
{
	const uint64_t key = 0x5eed5eed12345678ULL;
	static uint64_t names[4096];
	struct event e = { .type = EV_STATE,
			   .id = 0xffff888012345000ULL,
			   .aux = 0xffff888012346000ULL };
	int clashes = 0;

	ASSERT_EQ(rec_pointer_name(key, 0), 0, "none stays none");
	for (int i = 0; i < 4096; i++) {
		/* slab-like: sockets 2 KiB apart in the direct map */
		names[i] = rec_pointer_name(key, 0xffff888100000000ULL + (uint64_t)i * 2048);
		if (names[i] >> 63 || !names[i])
			clashes++;
		for (int j = 0; j < i; j++)
			clashes += names[j] == names[i];
	}
	ASSERT_EQ(clashes, 0, "distinct, non-zero, top bit clear");
	ASSERT_EQ(rec_pointer_name(key, 0xffff888100000800ULL), names[1], "stable");
	ASSERT_TRUE(rec_pointer_name(key + 1, 0xffff888100000800ULL) != names[1],
		    "another key, other names");
	rec_hide_pointers(&e, key);
	ASSERT_EQ(e.id, rec_pointer_name(key, 0xffff888012345000ULL), "id renamed");
	ASSERT_EQ(e.aux, rec_pointer_name(key, 0xffff888012346000ULL), "tw sock renamed");
	e.type = EV_TW_START;
	e.aux = 123456789;
	rec_hide_pointers(&e, key);
	ASSERT_EQ(e.aux, 123456789, "a tw event's aux is a time: kept");
}

int main(int argc, char **argv)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_record.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		fprintf(stderr, "mkdtemp %s: %s\n", tmpdir, strerror(errno));
		return 1;
	}
	if (argc == 3 && !strcmp(argv[1], "--write-corpus")) {
		int rc = write_corpus(argv[2]);

		rm_tmpdir();
		return rc;
	}
	unit_init(argc, argv);
	RUN_TEST(test_crc32);
	RUN_TEST(test_round_trip);
	RUN_TEST(test_old_cpu);
	RUN_TEST(test_header);
	RUN_TEST(test_golden);
	RUN_TEST(test_file_mode);
	RUN_TEST(test_write_errors);
	RUN_TEST(test_truncated);
	RUN_TEST(test_unclosed);
	RUN_TEST(test_corrupt);
	RUN_TEST(test_versions);
	RUN_TEST(test_foreign);
	RUN_TEST(test_sticky);
	RUN_TEST(test_replay_table);
	RUN_TEST(test_pointer_names);
	rm_tmpdir();
	return unit_summary();
}
