// SPDX-License-Identifier: GPL-2.0
/*
 * rec_write.c - -W: events into a recording file (layout: record.c), in
 * blocks written whole, with the kernel's addresses replaced by names.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "rec_format.h"

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

	rec_put_le(r->buf, r->len, 4);
	rec_put_le(r->buf + 4, count, 4);
	crc = rec_crc32(rec_crc32(0, r->buf, 8), r->buf + BLK_HDR, r->len);
	rec_put_le(r->buf + 8, crc, 4);
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
	rec_put_le(p + HDR_VERSION, REC_VERSION, 4);
	rec_put_le(p + HDR_LENGTH, HDR_LEN_V1, 4);
	rec_put_le(p + HDR_EVENT_SIZE, sizeof(struct event), 4);
	rec_put_le(p + HDR_START, h->start_ns, 8);
	rec_put_le(p + HDR_WALL, (uint64_t)h->wall_offset_ns, 8);
	memcpy(p + HDR_HOST, h->host, strnlen(h->host, REC_NAME_LEN - 1));
	memcpy(p + HDR_KERNEL, h->kernel, strnlen(h->kernel, REC_NAME_LEN - 1));
	rec_put_le(p + HDR_LEN_V1 - 4, rec_crc32(0, p, HDR_LEN_V1 - 4), 4);
}

struct recorder *recorder_open(const char *path, const struct rec_header *h, char *err,
			       size_t errlen)
{
	uint8_t hdr[HDR_LEN_V1];
	char name[NAME_SHOWN];
	struct recorder *r;
	struct stat st;
	int rc;

	rec_shown_name(name, path);
	r = malloc(sizeof(*r));
	if (!r) {
		rec_put_err(err, errlen, name, "cannot record: %s", strerror(ENOMEM));
		return NULL;
	}
	r->err = 0;
	r->count = 0;
	r->len = 0;
	r->records = 0;
	r->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (r->fd < 0) {
		if (errno == ELOOP)
			rec_put_err(err, errlen, name,
				    "cannot record: refusing to follow a symbolic link");
		else
			rec_put_err(err, errlen, name, "cannot record: %s", strerror(errno));
		free(r);
		return NULL;
	}
	/* an existing file keeps its mode through O_TRUNC: a recording is private */
	if (!fstat(r->fd, &st) && S_ISREG(st.st_mode) && (st.st_mode & 07777) != 0600 &&
	    fchmod(r->fd, 0600)) {
		rec_put_err(err, errlen, name, "cannot make it private (mode 0600): %s",
			    strerror(errno));
		goto fail;
	}
	encode_header(hdr, h);
	rc = write_all(r->fd, hdr, sizeof(hdr));
	if (rc) {
		rec_put_err(err, errlen, name, "cannot record: %s", strerror(-rc));
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
	r->len += rec_encode(r->buf + BLK_HDR + r->len, e);
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
		rec_put_le(r->buf + BLK_HDR, r->records, 8);
		err = write_block(r, 0);
	}
	if (close(r->fd) && !err)
		err = -errno;
	free(r);
	return err;
}
