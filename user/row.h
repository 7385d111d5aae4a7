/* SPDX-License-Identifier: GPL-2.0 */
/*
 * row.h - one output row: a value per column of a fixed table of columns,
 * written as a CSV line or as a JSON object (--json) whose keys are the
 * column names. Both forms come from the same table, so they cannot drift.
 *
 * A value is a string, an unsigned number or absent: absent is an empty
 * CSV field and JSON null (an empty string is absent too). Strings are
 * borrowed: they must live until the row is written.
 */
#ifndef __ROW_H
#define __ROW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* An X-macro list of column names gives both the enum and the names. */
#define COL_ENUM(name) COL_##name,
#define COL_NAME(name) #name,

struct columns {
	const char *const *names;
	int n;
};

/* CELL_TEXT: a string that never needs CSV quotes (see row_text) */
enum cell_kind { CELL_NULL, CELL_STR, CELL_TEXT, CELL_U64 };

struct cell {
	uint8_t kind;
	uint64_t u;
	const char *s;
};

#define ROW_MAX_COLS 48

struct row {
	const struct columns *cols;
	/* an extra first column (e.g. --open's "row": open or end), NULL if none */
	const char *tag_name, *tag;
	struct cell c[ROW_MAX_COLS];
};

/* Every value absent. */
void row_init(struct row *r, const struct columns *cols);

static inline void row_u64(struct row *r, int col, uint64_t v)
{
	r->c[col].kind = CELL_U64;
	r->c[col].u = v;
}

/* NULL or "" is absent. */
static inline void row_str(struct row *r, int col, const char *s)
{
	r->c[col].kind = s && *s ? CELL_STR : CELL_NULL;
	r->c[col].s = s;
}

/*
 * Text that tcpphase made itself (a time, an address, one of its own
 * names): it has no comma, quote or line break, so a CSV row copies it
 * without looking for one. NULL or "" is absent.
 */
static inline void row_text(struct row *r, int col, const char *s)
{
	r->c[col].kind = s && *s ? CELL_TEXT : CELL_NULL;
	r->c[col].s = s;
}

/* A duration in ns as whole microseconds; absent when ns < 0. */
static inline void row_us(struct row *r, int col, int64_t ns)
{
	if (ns < 0)
		r->c[col].kind = CELL_NULL;
	else
		row_u64(r, col, (uint64_t)ns / 1000);
}

/* The CSV header line: the column names, after tag_name if not NULL. */
void row_csv_header(const struct columns *cols, FILE *f);
void row_csv_header_tagged(const struct columns *cols, const char *tag_name, FILE *f);

/* Put the value tag in an extra first column named tag_name. */
static inline void row_tag(struct row *r, const char *tag_name, const char *tag)
{
	r->tag_name = tag_name;
	r->tag = tag;
}

/* The row as one line on f: CSV, or a JSON object when json. */
void row_write(const struct row *r, FILE *f, bool json);

#endif /* __ROW_H */
