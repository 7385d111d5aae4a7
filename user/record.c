// SPDX-License-Identifier: GPL-2.0
/*
 * record.c - the recording file: the raw event stream written by -W
 * (rec_write.c) and read back by -r (rec_read.c), so that a capture can be
 * replayed through the connection table anywhere, without root or BPF.
 * Here: the layout, the encoding of one event, and the checks.
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
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <zlib.h>

#include "rec_format.h"

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

/* zlib's CRC-32: the same polynomial and chaining as the format's, without a loop of our own. */
uint32_t rec_crc32(uint32_t crc, const void *buf, size_t len)
{
	return crc32_z(crc, buf, len);
}

void rec_put_le(uint8_t *p, uint64_t v, unsigned int size)
{
	for (unsigned int i = 0; i < size; i++)
		p[i] = v >> (8 * i);
}

uint64_t rec_get_le(const uint8_t *p, unsigned int size)
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
size_t rec_encode(uint8_t *p, const struct event *e)
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
		rec_put_le(p + n, v, scalars[i].size);
		n += scalars[i].size;
	}
	rec_put_le(p, desc, 4);
	p[4] = e->type;
	p[5] = e->family;
	memcpy(p + n, e->saddr, sl);
	n += sl;
	memcpy(p + n, e->daddr, dl);
	n += dl;
	memcpy(p + n, e->comm, cl);
	n += cl;
	if (e->cgroup) {
		rec_put_le(p + n, e->cgroup, 8);
		n += 8;
	}
	return n;
}

/*
 * Decode the record at p, with len bytes left in its block, into e, as
 * format version 'version' lays it out. Returns its length, or 0
 * (why_not's false) with the reason in why; e is then partly filled.
 */
size_t rec_decode(const uint8_t *p, size_t len, uint32_t version, struct event *e, char *why,
		  size_t whylen)
{
	uint32_t desc;
	unsigned int sl, dl, cl;
	size_t n = REC_MIN;

	if (len < REC_MIN)
		return why_not(why, whylen, "runs past the end of its block");
	desc = rec_get_le(p, 4);
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
		store_scalar(e, i, rec_get_le(p + n, scalars[i].size));
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
		e->cgroup = rec_get_le(p + n, 8);
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
void rec_shown_name(char *dst, const char *path)
{
	size_t n;

	for (n = 0; path[n] && n + 1 < NAME_SHOWN; n++)
		dst[n] = (unsigned char)path[n] < 0x20 || path[n] == 0x7f ? '?' : path[n];
	dst[n] = 0;
}

void __attribute__((format(printf, 4, 5)))
rec_put_err(char *err, size_t errlen, const char *name, const char *fmt, ...)
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

void rec_copy_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
}
