// SPDX-License-Identifier: GPL-2.0
/*
 * rec_read.c - -r: a recording read back (layout: record.c), every length
 * and checksum checked, the first failure the replay's one-line reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rec_format.h"

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
	version = rec_get_le(p + HDR_VERSION, 4);
	if (version > REC_VERSION)
		return fail(r, "format version %u is newer than this tcpphase supports (%d)",
			    version, REC_VERSION);
	if (version == 0)
		return fail(r, "corrupt header (format version 0)");
	len = rec_get_le(p + HDR_LENGTH, 4);
	if (len < HDR_LEN_V1 || len > HDR_MAX)
		return fail(r, "corrupt header (length %u)", len);
	if (read_exact(r, p + 16, len - 16))
		return -1;
	if (rec_get_le(p + len - 4, 4) != rec_crc32(0, p, len - 4))
		return fail(r, "corrupt header (checksum mismatch)");
	size = rec_get_le(p + HDR_EVENT_SIZE, 4);
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
		h->wall_offset_ns = (int64_t)rec_get_le(p + HDR_WALL, 8);
		h->start_ns = rec_get_le(p + HDR_START, 8);
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
	len = rec_get_le(bh, 4);
	count = rec_get_le(bh + 4, 4);
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
	if (rec_get_le(bh + 8, 4) != rec_crc32(rec_crc32(0, bh, 8), r->blk, len)) {
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
	total = rec_get_le(r->blk, 8);
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
	rec_shown_name(r->name, name);
	return r;
}

struct replay *replay_open(const char *path, struct rec_header *h, char *err, size_t errlen)
{
	struct replay *r = replay_new(path);

	if (!r) {
		char name[NAME_SHOWN];

		rec_shown_name(name, path);
		rec_put_err(err, errlen, name, "%s", strerror(ENOMEM));
		return NULL;
	}
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		fail(r, "cannot open: %s", strerror(errno));
	else if (!read_header(r, h))
		return r;
	rec_copy_err(err, errlen, r->msg);
	replay_close(r);
	return NULL;
}

struct replay *replay_open_mem(const void *buf, size_t len, struct rec_header *h, char *err,
			       size_t errlen)
{
	struct replay *r = replay_new("<memory>");

	if (!r) {
		rec_put_err(err, errlen, "<memory>", "%s", strerror(ENOMEM));
		return NULL;
	}
	r->mem = buf;
	r->mem_len = buf ? len : 0;
	if (!read_header(r, h))
		return r;
	rec_copy_err(err, errlen, r->msg);
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
	n = rec_decode(r->blk + r->blk_off, r->blk_len - r->blk_off, r->version, e, why,
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
	rec_copy_err(err, errlen, r->msg);
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
	hlen = rec_get_le(p + HDR_LENGTH, 4);
	if (hlen < HDR_LEN_V1 || hlen > HDR_MAX || hlen > len)
		return 0;
	rec_put_le(p + hlen - 4, rec_crc32(0, p, hlen - 4), 4);
	n++;
	for (off = hlen; len - off >= BLK_HDR; off += BLK_HDR + blen) {
		blen = rec_get_le(p + off, 4);
		if (blen > len - off - BLK_HDR)
			break;
		crc = rec_crc32(rec_crc32(0, p + off, 8), p + off + BLK_HDR, blen);
		rec_put_le(p + off + 8, crc, 4);
		n++;
	}
	return n;
}
