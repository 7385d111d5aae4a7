/* SPDX-License-Identifier: GPL-2.0 */
/*
 * json.h - the JSON writer of --json: strings escaped so that any bytes
 * (control bytes, quotes, backslashes, invalid UTF-8) still give valid
 * JSON, numbers, null, and objects and arrays with their commas placed.
 *
 * It appends to a strbuf (format.h). With a FILE, the buffer is written
 * out whenever it fills, so a value of any size fits; without one, what
 * does not fit is dropped and 'overflow' is set.
 */
#ifndef __JSON_H
#define __JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "format.h"

#define JSON_MAX_DEPTH 16

struct json {
	struct strbuf *b;
	FILE *f; /* NULL: b only */
	int depth;
	bool first[JSON_MAX_DEPTH]; /* per level: no member written yet */
	bool overflow; /* something was dropped (no FILE to spill to) */
};

/* A writer into b, spilling into f when b fills (f may be NULL). */
void json_init(struct json *j, struct strbuf *b, FILE *f);

/* s as a JSON string (quoted); n bytes (embedded NULs too) or up to the NUL. */
void json_strn(struct json *j, const char *s, size_t n);
void json_str(struct json *j, const char *s);

/*
 * The key of the next member ("key":), with the comma before it if needed.
 * In an array, or at the top, key is NULL: only the comma.
 */
void json_key(struct json *j, const char *key);

/* Members: key, then the value. A NULL string is null. */
void json_kstr(struct json *j, const char *key, const char *s);
void json_ku64(struct json *j, const char *key, uint64_t v);
void json_ks64(struct json *j, const char *key, int64_t v);
/* v with up to 3 decimals ("1.5"); null if not finite */
void json_kdouble(struct json *j, const char *key, double v);
void json_knull(struct json *j, const char *key);
void json_kbool(struct json *j, const char *key, bool v);

/* An object or array as a member (key) or an element (key NULL). */
void json_open(struct json *j, const char *key, char brace);
void json_close(struct json *j, char brace);

/* End the line (NDJSON) and write out what the buffer holds, if a FILE is set. */
void json_end_line(struct json *j);

#endif /* __JSON_H */
