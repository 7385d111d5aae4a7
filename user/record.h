/* SPDX-License-Identifier: GPL-2.0 */
/*
 * record.h - record the raw event stream to a file (-W FILE) and read it
 * back (-r FILE).
 *
 * A recording holds the ring buffer's struct event records in ring-buffer
 * order behind a header saying where and when they were taken. Replayed
 * through the connection table they give the same lifecycles as the live
 * run did, with no root and no BPF. The on-disk layout (little-endian,
 * versioned, CRC-32 checked) is described at the top of record.c.
 *
 * Errors: a function that takes err/errlen writes there one line with no
 * newline, "FILE: reason" (FILE as given, control characters shown as '?');
 * err may be NULL. Nothing here prints.
 */
#ifndef __RECORD_H
#define __RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "tcpphase.h"

#define REC_MAGIC "TCPPHASE" /* the first 8 bytes of a recording, no NUL */
#define REC_MAGIC_LEN 8
#define REC_VERSION 2 /* the format version written, and the newest read (1 is read too) */
#define REC_NAME_LEN 64 /* rec_header.host and .kernel, NUL included */
#define REC_BLOCK_MAX 65536 /* most record bytes in one block (the write buffer) */

/* What a recording says about itself. */
struct rec_header {
	char host[REC_NAME_LEN]; /* node name, NUL-terminated (at most 63 chars) */
	char kernel[REC_NAME_LEN]; /* kernel release (uname -r), NUL-terminated */
	/* CLOCK_REALTIME - CLOCK_MONOTONIC at start, ns: wall clock = event ts_ns + this */
	int64_t wall_offset_ns;
	uint32_t version; /* the file's format version; the writer writes REC_VERSION */
	uint32_t event_size; /* sizeof(struct event) when recorded; the writer's own */
	uint64_t start_ns; /* CLOCK_MONOTONIC ns when the recording began */
};

/* Fill h for a recording that starts now: uname, both clocks sampled together. */
void rec_header_init(struct rec_header *h);

/* ---- writing ---- */

struct recorder;

/*
 * Create path (mode 0600, truncated if it exists; a symbolic link as the
 * last component is refused) and write h's host, kernel, wall_offset_ns and
 * start_ns. A pipe or device works too. NULL with a reason in err on failure.
 */
struct recorder *recorder_open(const char *path, const struct rec_header *h, char *err,
			       size_t errlen);
/*
 * Append one event (copied). Buffered: blocks of up to REC_BLOCK_MAX bytes
 * reach the file when full or on recorder_flush(). 0, -EINVAL for an event
 * that a reader would reject (see rec_check_event; nothing is written), or
 * the first write error as -errno: errors are sticky, every later call
 * returns the same one. Writing to a closed pipe gives -EPIPE only if the
 * caller ignores SIGPIPE.
 */
int recorder_write(struct recorder *r, const struct event *e);
/*
 * Recordings are made to be shared: the live tracer names the kernel
 * addresses in an event (its sock, a tw sock, a listener) by a keyed
 * permutation, a key per run, before recorder_write. rec_pointer_name is
 * how key names ptr (0 stays 0); rec_hide_pointers renames e's.
 */
uint64_t rec_pointer_name(uint64_t key, uint64_t ptr);
void rec_hide_pointers(struct event *e, uint64_t key);
/* Hand the buffered events to the kernel (no fsync). 0 or -errno (ENOSPC, EPIPE...). */
int recorder_flush(struct recorder *r);
/*
 * Flush, write the end marker, close and free r (NULL is a no-op returning
 * 0). 0 or the first error as -errno. A recording not closed this way (the
 * process was killed) reads back as truncated after its last flushed block.
 */
int recorder_close(struct recorder *r);

/* ---- reading ---- */

struct replay;

/*
 * Open a recording and check its header; h (may be NULL) gets its fields.
 * NULL with a reason in err: not a recording, truncated, corrupt header, a
 * format version newer than REC_VERSION.
 */
struct replay *replay_open(const char *path, struct rec_header *h, char *err, size_t errlen);
/* The same over len bytes at buf, which must stay valid until replay_close (for fuzzers). */
struct replay *replay_open_mem(const void *buf, size_t len, struct rec_header *h, char *err,
			       size_t errlen);
/*
 * The next event, in recorded order. 1: *e filled (pad, the bytes after
 * comm's NUL and the tail padding are zero); 0: clean end, the end marker seen and the event
 * count checked; -1: truncated, corrupt or unreadable, reason in err. An
 * error is final and repeated by later calls; the events already returned
 * were sound, but the caller should report the replay as failed.
 */
int replay_next(struct replay *r, struct event *e, char *err, size_t errlen);
/* NULL is a no-op. */
void replay_close(struct replay *r);

/* ---- format tools (tests, fuzzers, and anyone checking a file by hand) ---- */

/* CRC-32 as zlib's crc32() (IEEE 802.3, reflected): pass 0, then the running value. */
uint32_t rec_crc32(uint32_t crc, const void *buf, size_t len);

/*
 * Whether a reader would take e: type in EV_STATE..EV_TYPE_MAX-1, family
 * AF_INET or AF_INET6 (an IPv4 address in its first 4 bytes only), both
 * states below TS_MAX_STATES. false with the reason in why (may be NULL).
 */
bool rec_check_event(const struct event *e, char *why, size_t whylen);

/*
 * Rewrite in place every checksum of the recording at buf (the header's and
 * each block's that lies wholly inside len), so that a corrupted field gets
 * past the checksums and reaches the field checks. Returns how many were
 * rewritten. Any bytes are safe to pass.
 */
int rec_fix_checksums(void *buf, size_t len);

#endif /* __RECORD_H */
