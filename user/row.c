// SPDX-License-Identifier: GPL-2.0
/*
 * row.c - a row of typed values written as CSV or as JSON (see row.h).
 * One row is written per endpoint: no printf, one fwrite per line.
 */
#include <string.h>

#include "format.h"
#include "json.h"
#include "row.h"

void row_init(struct row *r, const struct columns *cols)
{
	r->cols = cols;
	r->tag_name = r->tag = NULL;
	for (int i = 0; i < cols->n && i < ROW_MAX_COLS; i++)
		r->c[i].kind = CELL_NULL;
}

void row_csv_header(const struct columns *cols, FILE *f)
{
	row_csv_header_tagged(cols, NULL, f);
}

void row_csv_header_tagged(const struct columns *cols, const char *tag_name, FILE *f)
{
	if (tag_name)
		fprintf(f, "%s,", tag_name);
	for (int i = 0; i < cols->n; i++) {
		if (i)
			fputc(',', f);
		fputs(cols->names[i], f);
	}
	fputc('\n', f);
}

/* Room enough for any cell that is not a string: a number and its comma. */
#define CSV_CELL_ROOM 24

/*
 * One row per endpoint: the line is built with a cursor, room checked once
 * per cell rather than per character, and only strings from outside
 * (CELL_STR) are scanned for characters that need quotes. A line longer
 * than the buffer loses its last cells.
 */
static void write_csv(const struct row *r, FILE *f)
{
	char line[2048];
	size_t pos = 0, lim = sizeof(line) - CSV_CELL_ROOM;

	if (r->tag_name) {
		pos = csv_field(line, lim, pos, r->tag);
		line[pos++] = ',';
	}
	for (int i = 0; i < r->cols->n && pos < lim; i++) {
		const struct cell *c = &r->c[i];
		size_t n;

		if (i)
			line[pos++] = ',';
		switch (c->kind) {
		case CELL_U64:
			pos = put_u64(line + pos, c->u) - line;
			break;
		case CELL_TEXT:
			n = strnlen(c->s, lim - pos);
			memcpy(line + pos, c->s, n);
			pos += n;
			break;
		case CELL_STR:
			pos = csv_field(line, lim, pos, c->s);
			break;
		}
	}
	line[pos++] = '\n';
	fwrite(line, 1, pos, f);
}

static void write_json(const struct row *r, FILE *f)
{
	char line[2048];
	struct strbuf b = { .buf = line, .cap = sizeof(line) };
	struct json j;

	json_init(&j, &b, f);
	json_open(&j, NULL, '{');
	if (r->tag_name)
		json_kstr(&j, r->tag_name, r->tag);
	for (int i = 0; i < r->cols->n; i++) {
		const struct cell *c = &r->c[i];

		if (c->kind == CELL_U64)
			json_ku64(&j, r->cols->names[i], c->u);
		else if (c->kind == CELL_STR || c->kind == CELL_TEXT)
			json_kstr(&j, r->cols->names[i], c->s);
		else
			json_knull(&j, r->cols->names[i]);
	}
	json_close(&j, '}');
	json_end_line(&j);
}

void row_write(const struct row *r, FILE *f, bool json)
{
	if (json)
		write_json(r, f);
	else
		write_csv(r, f);
}
