// SPDX-License-Identifier: GPL-2.0
/*
 * record.c - the recording file: the raw event stream written by -W and
 * read back by -r, so that a capture can be replayed through the
 * connection table anywhere, without root or BPF.
 *
 * Layout, format version 2 (version 1 differs only where said: it has no
 * cgroup id, bit 31 of a record's descriptor is reserved there, and its
 * event size is 120; a version 1 file is read with cgroup ids 0). Every integer is little-endian, whatever the
 * host; offsets and lengths are in bytes. CRC-32 is zlib's crc32() (IEEE
 * 802.3, reflected, as Python's zlib.crc32), so a file can be checked with
 * no tcpphase at hand.
 *
 * File header, 168 bytes:
 *	  0   8  magic "TCPPHASE"
 *	  8   4  format version (2)
 *	 12   4  header length H, checksum included: 168 (a reader takes
 *		 168..1024 and skips what it does not know before the checksum)
 *	 16   4  event size: sizeof(struct event) when recorded (128; 120 in version 1)
 *	 20   8  start: CLOCK_MONOTONIC ns when the recording began
 *	 28   8  wall offset, signed: CLOCK_REALTIME - CLOCK_MONOTONIC at start, ns
 *	 36  64  host name, NUL-padded, at most 63 bytes
 *	100  64  kernel release, NUL-padded, at most 63 bytes
 *	H-4   4  CRC-32 of bytes 0..H-5
 *
 * Then blocks, back to back:
 *	  0   4  length L of the records that follow
 *	  4   4  record count N
 *	  8   4  CRC-32 of bytes 0..7 of this block, then of its L record bytes
 *	 12   L  N records (1 <= N, 6 <= L <= REC_BLOCK_MAX)
 * The last block is the end marker: N = 0, L = 8, and the 8 bytes are the
 * number of records in the whole file. Nothing follows it. A file that ends
 * anywhere else is truncated, even at a block boundary: a recording cut by a
 * crash or a full disk is reported, never taken for a complete one.
 *
 * Record, 6 to 127 bytes: the event's non-zero fields only.
 *	  0   4  descriptor: bit i (0..15) set when scalar i below is present;
 *		 bits 16-20, 21-25, 26-30: lengths of saddr, daddr, comm (0..16);
 *		 bit 31: the cgroup id follows (version 1: zero)
 *	  4   1  type
 *	  5   1  family
 *	  6   .  the present scalars in this order, each at its width in struct
 *		 event: ts_ns id aux tx_bytes rx_bytes (8) pid netns retrans
 *		 srtt_us (4) sport dport (2) oldstate newstate err flags cpu (1);
 *		 cpu is no longer in struct event: never written, skipped when read
 *	  .   .  saddr, daddr, comm: their first length bytes
 *	  .   8  cgroup id, when bit 31 is set (never 0)
 * An absent scalar is 0; address bytes past their length are 0 (the writer
 * drops trailing zeros: an IPv4 address takes 4 bytes at most); comm is
 * NUL-padded past its length. pad, the bytes after comm's NUL and the
 * struct's 4 bytes of padding after comm are not kept: the ring buffer does not
 * clear them, they carry nothing; a reader gives them as 0.
 *
 * A reader checks the checksums, every length against what holds it, each
 * record with rec_check_event() and the end marker's count; the first
 * failure ends the replay with a one-line reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "record.h"

/* File header offsets; the checksum is in its last 4 bytes. */
#define HDR_VERSION 8
#define HDR_LENGTH 12
#define HDR_EVENT_SIZE 16
#define HDR_START 20
#define HDR_WALL 28
#define HDR_HOST 36
#define HDR_KERNEL 100
#define HDR_LEN_V1 168
#define HDR_MAX 1024 /* the longest header a reader accepts */

#define BLK_HDR 12 /* length, count, checksum */
#define END_LEN 8 /* the end marker's record total */

#define NSCALARS 16
#define REC_MIN 6 /* descriptor, type, family */
#define REC_MAX (REC_MIN + 5 * 8 + 4 * 4 + 2 * 2 + 5 * 1 + 3 * 16 + 8)
#define DESC_SADDR 16
#define DESC_DADDR 21
#define DESC_COMM 26
#define DESC_CGROUP (1u << 31) /* version 2; reserved in version 1 */
#define EVENT_SIZE_V1 120

#define NAME_SHOWN 256 /* the most of a path shown in a message */
#define REASON_LEN 256 /* the most of a reason, after "path: " */
#define MSG_LEN (NAME_SHOWN + 2 + REASON_LEN)

/*
 * What a version 2 reader accepts. A new event type or field changes what
 * a recording may hold: bump REC_VERSION (older readers then say so) and
 * keep reading versions 1 and 2.
 */
_Static_assert(sizeof(struct event) == 128, "struct event changed: bump REC_VERSION");
_Static_assert(EV_TYPE_MAX == 12, "event type added: bump REC_VERSION"); /* 2: EV_RST */
_Static_assert(TS_MAX_STATES == 13, "TCP states changed: bump REC_VERSION");
_Static_assert(REC_MAX == 127, "record size");
_Static_assert(REC_BLOCK_MAX >= REC_MAX && REC_BLOCK_MAX <= UINT32_MAX, "block size");

/* clang-format off */
#define SCALAR(f) { offsetof(struct event, f), sizeof(((struct event *)0)->f) }
/* clang-format on */
/* A scalar of the format that struct event no longer has: read, dropped. */
#define GONE 0xff
_Static_assert(sizeof(struct event) < GONE, "GONE must lie outside struct event");

/* The scalar fields of struct event, in descriptor bit order. */
static const struct {
	uint8_t off;
	uint8_t size;
} scalars[NSCALARS] = {
	SCALAR(ts_ns),	  SCALAR(id),	 SCALAR(aux),	SCALAR(tx_bytes),
	SCALAR(rx_bytes), SCALAR(pid),	 SCALAR(netns), SCALAR(retrans),
	SCALAR(srtt_us),  SCALAR(sport), SCALAR(dport), SCALAR(oldstate),
	SCALAR(newstate), SCALAR(err),	 SCALAR(flags), { GONE, 1 }, /* cpu */
};

/* ---- encoding helpers ---- */

static const uint32_t crc_nibble[16] = {
	0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
	0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
	0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

/*
 * Four bits at a time from a 64-byte table: some 180 MB/s, far above any
 * event rate. Computed here rather than by zlib so that the pure modules
 * (and the unit tests, which link without -lz) need no library.
 */
uint32_t rec_crc32(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		crc = (crc >> 4) ^ crc_nibble[crc & 15];
		crc = (crc >> 4) ^ crc_nibble[crc & 15];
	}
	return ~crc;
}

static void put_le(uint8_t *p, uint64_t v, unsigned int size)
{
	for (unsigned int i = 0; i < size; i++)
		p[i] = v >> (8 * i);
}

static uint64_t get_le(const uint8_t *p, unsigned int size)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static uint64_t load_scalar(const struct event *e, int i)
{
	const uint8_t *p;
	uint64_t v64;
	uint32_t v32;
	uint16_t v16;

	if (scalars[i].off == GONE)
		return 0; /* absent: never written */
	p = (const uint8_t *)e + scalars[i].off;
	switch (scalars[i].size) {
	case 8:
		memcpy(&v64, p, 8);
		return v64;
	case 4:
		memcpy(&v32, p, 4);
		return v32;
	case 2:
		memcpy(&v16, p, 2);
		return v16;
	default:
		return *p;
	}
}

static void store_scalar(struct event *e, int i, uint64_t v)
{
	uint8_t *p;
	uint32_t v32 = v;
	uint16_t v16 = v;

	if (scalars[i].off == GONE)
		return;
	p = (uint8_t *)e + scalars[i].off;
	switch (scalars[i].size) {
	case 8:
		memcpy(p, &v, 8);
		break;
	case 4:
		memcpy(p, &v32, 4);
		break;
	case 2:
		memcpy(p, &v16, 2);
		break;
	default:
		*p = v;
	}
}

/* Bytes of a up to its last non-zero one. */
static unsigned int trimmed_len(const uint8_t *a, unsigned int n)
{
	while (n && !a[n - 1])
		n--;
	return n;
}

static bool __attribute__((format(printf, 3, 4)))
why_not(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return false;
}

bool rec_check_event(const struct event *e, char *why, size_t whylen)
{
	if (e->type < EV_STATE || e->type >= EV_TYPE_MAX)
		return why_not(why, whylen, "event type %u out of range (%d-%d)", e->type, EV_STATE,
			       EV_TYPE_MAX - 1);
	if (e->family != AF_INET && e->family != AF_INET6)
		return why_not(why, whylen, "address family %u is neither AF_INET nor AF_INET6",
			       e->family);
	if (e->family == AF_INET &&
	    (trimmed_len(e->saddr, 16) > 4 || trimmed_len(e->daddr, 16) > 4))
		return why_not(why, whylen, "IPv4 address longer than 4 bytes");
	if (e->oldstate >= TS_MAX_STATES)
		return why_not(why, whylen, "old TCP state %u out of range (0-%d)", e->oldstate,
			       TS_MAX_STATES - 1);
	if (e->newstate >= TS_MAX_STATES)
		return why_not(why, whylen, "new TCP state %u out of range (0-%d)", e->newstate,
			       TS_MAX_STATES - 1);
	return true;
}

/* Encode e at p, which has room for REC_MAX bytes; returns the bytes used. */
static size_t encode_event(uint8_t *p, const struct event *e)
{
	unsigned int sl = trimmed_len(e->saddr, 16), dl = trimmed_len(e->daddr, 16);
	unsigned int cl = strnlen(e->comm, TASK_COMM_LEN);
	uint32_t desc = sl << DESC_SADDR | dl << DESC_DADDR | cl << DESC_COMM;
	size_t n = REC_MIN;

	if (e->cgroup)
		desc |= DESC_CGROUP;

	for (int i = 0; i < NSCALARS; i++) {
		uint64_t v = load_scalar(e, i);

		if (!v)
			continue;
		desc |= 1u << i;
		put_le(p + n, v, scalars[i].size);
		n += scalars[i].size;
	}
	put_le(p, desc, 4);
	p[4] = e->type;
	p[5] = e->family;
	memcpy(p + n, e->saddr, sl);
	n += sl;
	memcpy(p + n, e->daddr, dl);
	n += dl;
	memcpy(p + n, e->comm, cl);
	n += cl;
	if (e->cgroup) {
		put_le(p + n, e->cgroup, 8);
		n += 8;
	}
	return n;
}

/*
 * Decode the record at p, with len bytes left in its block, into e, as
 * format version 'version' lays it out. Returns its length, or 0
 * (why_not's false) with the reason in why; e is then partly filled.
 */
static size_t decode_event(const uint8_t *p, size_t len, uint32_t version, struct event *e,
			   char *why, size_t whylen)
{
	uint32_t desc;
	unsigned int sl, dl, cl;
	size_t n = REC_MIN;

	if (len < REC_MIN)
		return why_not(why, whylen, "runs past the end of its block");
	desc = get_le(p, 4);
	sl = desc >> DESC_SADDR & 31;
	dl = desc >> DESC_DADDR & 31;
	cl = desc >> DESC_COMM & 31;
	if ((desc & DESC_CGROUP) && version < 2)
		return why_not(why, whylen, "reserved descriptor bit set");
	if (sl > 16 || dl > 16 || cl > TASK_COMM_LEN)
		return why_not(why, whylen, "field lengths %u, %u, %u: over 16", sl, dl, cl);
	memset(e, 0, sizeof(*e));
	e->type = p[4];
	e->family = p[5];
	for (int i = 0; i < NSCALARS; i++) {
		if (!(desc & 1u << i))
			continue;
		if (len - n < scalars[i].size)
			return why_not(why, whylen, "runs past the end of its block");
		store_scalar(e, i, get_le(p + n, scalars[i].size));
		n += scalars[i].size;
	}
	if (len - n < sl + dl + cl)
		return why_not(why, whylen, "runs past the end of its block");
	memcpy(e->saddr, p + n, sl);
	n += sl;
	memcpy(e->daddr, p + n, dl);
	n += dl;
	memcpy(e->comm, p + n, cl);
	n += cl;
	if (desc & DESC_CGROUP) {
		if (len - n < 8)
			return why_not(why, whylen, "runs past the end of its block");
		e->cgroup = get_le(p + n, 8);
		n += 8;
		if (!e->cgroup)
			return why_not(why, whylen, "cgroup id 0 given");
	}
	if (!rec_check_event(e, why, whylen))
		return 0;
	return n;
}

/* ---- messages ---- */

/* path as shown in a message: one line, at most NAME_SHOWN - 1 bytes. */
static void shown_name(char *dst, const char *path)
{
	size_t n;

	for (n = 0; path[n] && n + 1 < NAME_SHOWN; n++)
		dst[n] = (unsigned char)path[n] < 0x20 || path[n] == 0x7f ? '?' : path[n];
	dst[n] = 0;
}

static void __attribute__((format(printf, 4, 5)))
put_err(char *err, size_t errlen, const char *name, const char *fmt, ...)
{
	char msg[REASON_LEN];
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s: %s", name, msg);
}

static void copy_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
}

/* ---- writing ---- */

struct recorder {
	int fd;
	int err; /* the first write error, -errno: sticky */
	uint32_t count; /* records in the open block */
	uint32_t len; /* their bytes, in buf after the block header */
	uint64_t records; /* records written in all, for the end marker */
	uint8_t buf[BLK_HDR + REC_BLOCK_MAX];
};

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

/* Seal the open block as holding count records (0: the end marker) and write it. */
static int write_block(struct recorder *r, uint32_t count)
{
	uint32_t crc;
	int err;

	put_le(r->buf, r->len, 4);
	put_le(r->buf + 4, count, 4);
	crc = rec_crc32(rec_crc32(0, r->buf, 8), r->buf + BLK_HDR, r->len);
	put_le(r->buf + 8, crc, 4);
	err = write_all(r->fd, r->buf, BLK_HDR + r->len);
	r->count = 0;
	r->len = 0;
	if (err)
		r->err = err;
	return err;
}

static void copy_name(char *dst, const char *src)
{
	size_t n = strnlen(src, REC_NAME_LEN - 1);

	memcpy(dst, src, n);
	dst[n] = 0;
}

static uint64_t timespec_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000ULL + ts->tv_nsec;
}

void rec_header_init(struct rec_header *h)
{
	struct timespec m1, wall, m2;
	struct utsname u;
	uint64_t mono;

	memset(h, 0, sizeof(*h));
	if (!uname(&u)) {
		copy_name(h->host, u.nodename);
		copy_name(h->kernel, u.release);
	}
	/* the monotonic time halfway through the realtime read */
	clock_gettime(CLOCK_MONOTONIC, &m1);
	clock_gettime(CLOCK_REALTIME, &wall);
	clock_gettime(CLOCK_MONOTONIC, &m2);
	mono = timespec_ns(&m1) + (timespec_ns(&m2) - timespec_ns(&m1)) / 2;
	h->start_ns = mono;
	h->wall_offset_ns = (int64_t)(timespec_ns(&wall) - mono);
	h->version = REC_VERSION;
	h->event_size = sizeof(struct event);
}

static void encode_header(uint8_t *p, const struct rec_header *h)
{
	memset(p, 0, HDR_LEN_V1);
	memcpy(p, REC_MAGIC, REC_MAGIC_LEN);
	put_le(p + HDR_VERSION, REC_VERSION, 4);
	put_le(p + HDR_LENGTH, HDR_LEN_V1, 4);
	put_le(p + HDR_EVENT_SIZE, sizeof(struct event), 4);
	put_le(p + HDR_START, h->start_ns, 8);
	put_le(p + HDR_WALL, (uint64_t)h->wall_offset_ns, 8);
	memcpy(p + HDR_HOST, h->host, strnlen(h->host, REC_NAME_LEN - 1));
	memcpy(p + HDR_KERNEL, h->kernel, strnlen(h->kernel, REC_NAME_LEN - 1));
	put_le(p + HDR_LEN_V1 - 4, rec_crc32(0, p, HDR_LEN_V1 - 4), 4);
}

struct recorder *recorder_open(const char *path, const struct rec_header *h, char *err,
			       size_t errlen)
{
	uint8_t hdr[HDR_LEN_V1];
	char name[NAME_SHOWN];
	struct recorder *r;
	struct stat st;
	int rc;

	shown_name(name, path);
	r = malloc(sizeof(*r));
	if (!r) {
		put_err(err, errlen, name, "cannot record: %s", strerror(ENOMEM));
		return NULL;
	}
	r->err = 0;
	r->count = 0;
	r->len = 0;
	r->records = 0;
	r->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (r->fd < 0) {
		if (errno == ELOOP)
			put_err(err, errlen, name,
				"cannot record: refusing to follow a symbolic link");
		else
			put_err(err, errlen, name, "cannot record: %s", strerror(errno));
		free(r);
		return NULL;
	}
	/* an existing file keeps its mode through O_TRUNC: a recording is private */
	if (!fstat(r->fd, &st) && S_ISREG(st.st_mode) && (st.st_mode & 07777) != 0600 &&
	    fchmod(r->fd, 0600)) {
		put_err(err, errlen, name, "cannot make it private (mode 0600): %s",
			strerror(errno));
		goto fail;
	}
	encode_header(hdr, h);
	rc = write_all(r->fd, hdr, sizeof(hdr));
	if (rc) {
		put_err(err, errlen, name, "cannot record: %s", strerror(-rc));
		goto fail;
	}
	return r;
fail:
	close(r->fd);
	free(r);
	return NULL;
}

/*
 * A kernel address as this recording names it: a keyed permutation of the
 * 64-bit values (xor with the key, then splitmix64's finalizer, each step
 * invertible), so two addresses never share a name and a replay keeps every
 * identity, but the file says nothing of where the kernel's memory lies
 * (KASLR). The top bit is cleared so that no name looks like a kernel
 * address; a clash through it takes 2^63 tries. 0 (none) stays 0.
 */
uint64_t rec_pointer_name(uint64_t key, uint64_t ptr)
{
	uint64_t x = ptr ^ key;

	if (!ptr)
		return 0;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x ^= x >> 31;
	x &= ~(1ULL << 63);
	return x ? x : 1;
}

void rec_hide_pointers(struct event *e, uint64_t key)
{
	/* the socket, tw or request sock; aux: a tw sock or a listener */
	e->id = rec_pointer_name(key, e->id);
	if (e->type == EV_STATE || e->type == EV_REQ_START || e->type == EV_REQ_EXPIRE ||
	    e->type == EV_REQ_CANCEL)
		e->aux = rec_pointer_name(key, e->aux);
}

int recorder_write(struct recorder *r, const struct event *e)
{
	if (r->err)
		return r->err;
	if (!rec_check_event(e, NULL, 0))
		return -EINVAL;
	if (r->len + REC_MAX > REC_BLOCK_MAX && write_block(r, r->count))
		return r->err;
	r->len += encode_event(r->buf + BLK_HDR + r->len, e);
	r->count++;
	r->records++;
	return 0;
}

int recorder_flush(struct recorder *r)
{
	if (r->err)
		return r->err;
	if (!r->count)
		return 0;
	return write_block(r, r->count);
}

int recorder_close(struct recorder *r)
{
	int err;

	if (!r)
		return 0;
	err = recorder_flush(r);
	if (!err) {
		r->len = END_LEN;
		put_le(r->buf + BLK_HDR, r->records, 8);
		err = write_block(r, 0);
	}
	if (close(r->fd) && !err)
		err = -errno;
	free(r);
	return err;
}

/* ---- reading ---- */

enum { RP_BLOCKS, RP_END, RP_ERROR };

struct replay {
	int fd; /* -1: reading mem */
	const uint8_t *mem;
	size_t mem_len;
	uint64_t pos; /* bytes taken from the file so far */
	int state; /* RP_* */
	uint32_t blk_len; /* record bytes of the current block, in blk */
	uint32_t blk_off; /* where its next record starts */
	uint32_t blk_left; /* records of it not yet returned */
	uint64_t blk_at; /* file offset of blk[0] */
	uint64_t records; /* records returned so far */
	uint32_t version; /* the file's format version, from its header */
	char name[NAME_SHOWN];
	char msg[MSG_LEN]; /* "name: reason" once state is RP_ERROR */
	uint8_t blk[REC_BLOCK_MAX];
};

/* Set the replay's final error; returns -1. */
static int __attribute__((format(printf, 2, 3))) fail(struct replay *r, const char *fmt, ...)
{
	char why[REASON_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(r->msg, sizeof(r->msg), "%s: %s", r->name, why);
	r->state = RP_ERROR;
	return -1;
}

/* Up to n bytes into dst: fewer only at the end of the file; -1 on a read error (errno). */
static ssize_t src_read(struct replay *r, void *dst, size_t n)
{
	size_t got = 0;

	if (r->fd < 0) {
		size_t left = r->mem_len - r->pos;

		got = n < left ? n : left;
		if (got)
			memcpy(dst, r->mem + r->pos, got);
		r->pos += got;
		return got;
	}
	while (got < n) {
		ssize_t k = read(r->fd, (uint8_t *)dst + got, n - got);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (k == 0)
			break;
		got += k;
		r->pos += k;
	}
	return got;
}

static int read_failed(struct replay *r)
{
	return fail(r, "read error at byte %" PRIu64 ": %s", r->pos, strerror(errno));
}

/* Exactly n bytes, or -1: the file ends first (truncated) or cannot be read. */
static int read_exact(struct replay *r, void *dst, size_t n)
{
	ssize_t got = src_read(r, dst, n);

	if (got < 0)
		return read_failed(r);
	if ((size_t)got < n)
		return fail(r, "truncated at byte %" PRIu64, r->pos);
	return 0;
}

static int read_header(struct replay *r, struct rec_header *h)
{
	uint8_t p[HDR_MAX];
	uint32_t version, len, size;
	ssize_t got = src_read(r, p, 16);

	if (got < 0)
		return read_failed(r);
	if (got == 0)
		return fail(r, "empty file, not a tcpphase recording");
	if (memcmp(p, REC_MAGIC, got < REC_MAGIC_LEN ? (size_t)got : REC_MAGIC_LEN))
		return fail(r, "not a tcpphase recording");
	if (got < 16)
		return fail(r, "truncated at byte %" PRIu64, r->pos);
	/* before the checksum: a newer version may lay its header out otherwise */
	version = get_le(p + HDR_VERSION, 4);
	if (version > REC_VERSION)
		return fail(r, "format version %u is newer than this tcpphase supports (%d)",
			    version, REC_VERSION);
	if (version == 0)
		return fail(r, "corrupt header (format version 0)");
	len = get_le(p + HDR_LENGTH, 4);
	if (len < HDR_LEN_V1 || len > HDR_MAX)
		return fail(r, "corrupt header (length %u)", len);
	if (read_exact(r, p + 16, len - 16))
		return -1;
	if (get_le(p + len - 4, 4) != rec_crc32(0, p, len - 4))
		return fail(r, "corrupt header (checksum mismatch)");
	size = get_le(p + HDR_EVENT_SIZE, 4);
	if (size != (version == 1 ? EVENT_SIZE_V1 : sizeof(struct event)))
		return fail(r, "corrupt header (event size %u, expected %zu)", size,
			    version == 1 ? (size_t)EVENT_SIZE_V1 : sizeof(struct event));
	r->version = version;
	if (!memchr(p + HDR_HOST, 0, REC_NAME_LEN) || !memchr(p + HDR_KERNEL, 0, REC_NAME_LEN))
		return fail(r, "corrupt header (host or kernel name not terminated)");
	if (h) {
		memset(h, 0, sizeof(*h));
		memcpy(h->host, p + HDR_HOST, REC_NAME_LEN);
		memcpy(h->kernel, p + HDR_KERNEL, REC_NAME_LEN);
		h->wall_offset_ns = (int64_t)get_le(p + HDR_WALL, 8);
		h->start_ns = get_le(p + HDR_START, 8);
		h->version = version;
		h->event_size = size;
	}
	return 0;
}

/* Load the next block, or take the end marker; the outcome is in r->state. */
static void next_block(struct replay *r)
{
	uint64_t at = r->pos, total;
	uint32_t len, count;
	bool bad;
	uint8_t bh[BLK_HDR];
	ssize_t got = src_read(r, bh, BLK_HDR);

	if (got < 0) {
		read_failed(r);
		return;
	}
	if (got == 0) {
		fail(r, "truncated at byte %" PRIu64 " (no end marker: recording cut short)",
		     r->pos);
		return;
	}
	if (got < BLK_HDR) {
		fail(r, "truncated at byte %" PRIu64, r->pos);
		return;
	}
	len = get_le(bh, 4);
	count = get_le(bh + 4, 4);
	/* a data block holds 1..len/REC_MIN records; the end marker 0, in 8 bytes */
	if (count)
		bad = len < REC_MIN || len > REC_BLOCK_MAX || count > len / REC_MIN;
	else
		bad = len != END_LEN;
	if (bad) {
		fail(r, "corrupt block header at byte %" PRIu64 " (%u records in %u bytes)", at,
		     count, len);
		return;
	}
	if (read_exact(r, r->blk, len))
		return;
	if (get_le(bh + 8, 4) != rec_crc32(rec_crc32(0, bh, 8), r->blk, len)) {
		fail(r, "checksum mismatch in block at byte %" PRIu64, at);
		return;
	}
	if (count) {
		r->blk_at = at + BLK_HDR;
		r->blk_len = len;
		r->blk_off = 0;
		r->blk_left = count;
		return;
	}
	total = get_le(r->blk, 8);
	if (total != r->records) {
		fail(r, "end marker at byte %" PRIu64 ": %" PRIu64 " records, not %" PRIu64, at,
		     total, r->records);
		return;
	}
	got = src_read(r, bh, 1);
	if (got < 0)
		read_failed(r);
	else if (got)
		fail(r, "unexpected data after the end marker, at byte %" PRIu64, r->pos - 1);
	else
		r->state = RP_END;
}

static struct replay *replay_new(const char *name)
{
	struct replay *r = malloc(sizeof(*r));

	if (!r)
		return NULL;
	memset(r, 0, offsetof(struct replay, blk));
	r->fd = -1;
	r->state = RP_BLOCKS;
	shown_name(r->name, name);
	return r;
}

struct replay *replay_open(const char *path, struct rec_header *h, char *err, size_t errlen)
{
	struct replay *r = replay_new(path);

	if (!r) {
		char name[NAME_SHOWN];

		shown_name(name, path);
		put_err(err, errlen, name, "%s", strerror(ENOMEM));
		return NULL;
	}
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		fail(r, "cannot open: %s", strerror(errno));
	else if (!read_header(r, h))
		return r;
	copy_err(err, errlen, r->msg);
	replay_close(r);
	return NULL;
}

struct replay *replay_open_mem(const void *buf, size_t len, struct rec_header *h, char *err,
			       size_t errlen)
{
	struct replay *r = replay_new("<memory>");

	if (!r) {
		put_err(err, errlen, "<memory>", "%s", strerror(ENOMEM));
		return NULL;
	}
	r->mem = buf;
	r->mem_len = buf ? len : 0;
	if (!read_header(r, h))
		return r;
	copy_err(err, errlen, r->msg);
	replay_close(r);
	return NULL;
}

int replay_next(struct replay *r, struct event *e, char *err, size_t errlen)
{
	char why[128];
	size_t n;

	while (r->state == RP_BLOCKS && !r->blk_left)
		next_block(r);
	if (r->state == RP_END)
		return 0;
	if (r->state == RP_ERROR)
		goto failed;
	n = decode_event(r->blk + r->blk_off, r->blk_len - r->blk_off, r->version, e, why,
			 sizeof(why));
	if (!n) {
		fail(r, "corrupt record at byte %" PRIu64 ": %s", r->blk_at + r->blk_off, why);
		goto failed;
	}
	r->blk_off += n;
	r->blk_left--;
	r->records++;
	if (!r->blk_left && r->blk_off != r->blk_len) {
		fail(r, "corrupt block at byte %" PRIu64 ": %u bytes after its last record",
		     r->blk_at - BLK_HDR, r->blk_len - r->blk_off);
		goto failed;
	}
	return 1;
failed:
	copy_err(err, errlen, r->msg);
	return -1;
}

void replay_close(struct replay *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

int rec_fix_checksums(void *buf, size_t len)
{
	uint8_t *p = buf;
	uint32_t hlen, blen, crc;
	size_t off;
	int n = 0;

	if (!p || len < 16 || memcmp(p, REC_MAGIC, REC_MAGIC_LEN))
		return 0;
	hlen = get_le(p + HDR_LENGTH, 4);
	if (hlen < HDR_LEN_V1 || hlen > HDR_MAX || hlen > len)
		return 0;
	put_le(p + hlen - 4, rec_crc32(0, p, hlen - 4), 4);
	n++;
	for (off = hlen; len - off >= BLK_HDR; off += BLK_HDR + blen) {
		blen = get_le(p + off, 4);
		if (blen > len - off - BLK_HDR)
			break;
		crc = rec_crc32(rec_crc32(0, p + off, 8), p + off + BLK_HDR, blen);
		put_le(p + off + 8, crc, 4);
		n++;
	}
	return n;
}
