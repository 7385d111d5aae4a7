/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rec_format.h - the recording format's insides, shared by record.c (the
 * layout, its encoding and checks), rec_write.c (-W) and rec_read.c (-r).
 * The layout is described at the top of record.c.
 */
#ifndef __REC_FORMAT_H
#define __REC_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

void rec_put_le(uint8_t *p, uint64_t v, unsigned int size);
uint64_t rec_get_le(const uint8_t *p, unsigned int size);
/* Encode e at p, which has room for REC_MAX bytes; returns the bytes used. */
size_t rec_encode(uint8_t *p, const struct event *e);
/*
 * Decode the record at p, with len bytes left in its block, into e, as
 * format version 'version' lays it out. Returns its length, or 0 with the
 * reason in why; e is then partly filled.
 */
size_t rec_decode(const uint8_t *p, size_t len, uint32_t version, struct event *e, char *why,
		  size_t whylen);
/* path as shown in a message: one line, at most NAME_SHOWN - 1 bytes. */
void rec_shown_name(char *dst, const char *path);
/* "name: reason" into err (errlen bytes; nothing when err is NULL). */
void __attribute__((format(printf, 4, 5)))
rec_put_err(char *err, size_t errlen, const char *name, const char *fmt, ...);
void rec_copy_err(char *err, size_t errlen, const char *msg);

#endif /* __REC_FORMAT_H */
