/*
 * format.h - the one table/json/csv formatter of ticketctl (DESIGN §5:
 * "every listing can print --format=table|json|csv").
 *
 * A listing is a struct format_table: named, typed columns and rows of
 * UTF-8 text cells, NULL for SQL NULL.  Whoever reads the data (ticket-query.c)
 * fills a table; the printers here decide nothing about tickets.
 *
 *   table  aligned columns under an upper-case header, one line per row,
 *          control characters replaced, long cells cut to the column's
 *          max_width with "…"; widths count terminal columns (a CJK
 *          character takes two, a combining mark none), not bytes
 *   json   an array of objects (RFC 8259); numbers and booleans unquoted,
 *          NULL as null, strings escaped with control characters as \u00XX
 *   csv    RFC 4180: a header line, CRLF line ends, a field quoted when it
 *          holds a comma, a quote, CR or LF (quotes doubled); NULL empty
 *
 * A record (struct format_record, `show N`) is one row of fields plus named
 * children: lists of strings (cc, tags) and tables (messages, events); and
 * nests, rows that belong to the rows of a child (a message's signature and
 * secure parts), joined on the child's id.
 *
 * Memory: a table owns its rows and cells (format_table_free); columns are
 * the caller's, usually a static array.  A record owns its tables.
 * Errors: the printers cannot fail short of the stream's own errors, which
 * the caller sees with ferror(); the format.c printers are the only lib/
 * functions that write, and only to the stream they are given.
 */
#ifndef TICKETD_FORMAT_H
#define TICKETD_FORMAT_H

#include <glib.h>
#include <stdbool.h>
#include <stdio.h>

enum format_kind {
	FORMAT_TABLE,
	FORMAT_JSON,
	FORMAT_CSV
};

enum format_type {
	FORMAT_TEXT,    /* a JSON string */
	FORMAT_NUMBER,  /* digits as they came from the database, unquoted in JSON */
	FORMAT_BOOLEAN, /* "t"/"f" (PostgreSQL's text form) or "true"/"false" */
	FORMAT_LONG,    /* text of many lines: a record prints it below the fields */
};

struct format_column {
	const char *name;
	enum format_type type;
	int max_width; /* widest table cell in terminal columns; 0: no limit */
};

struct format_table {
	const struct format_column *columns;
	size_t ncolumns;
	GPtrArray *rows; /* of char *[ncolumns], NULL cells are NULL */
};

/* "table", "json" or "csv"; -1 for anything else. */
int format_parse_kind(const char *name, enum format_kind *kind_r);

struct format_table *format_table_new(const struct format_column *columns, size_t ncolumns);
/* Appends a row; cells (ncolumns of them, NULL allowed) are copied. */
void format_table_add_row(struct format_table *table, const char *const *cells);
size_t format_table_rows(const struct format_table *table);
/* The cell, or NULL for a NULL cell. */
const char *format_table_cell(const struct format_table *table, size_t row, size_t column);
void format_table_free(struct format_table **table);

/* Appends value as a JSON string, or null when value is NULL. */
void format_json_string(GString *out, const char *value);
/* Appends one CSV field, quoted when RFC 4180 says it must be. */
void format_csv_field(GString *out, const char *value);
/* Terminal columns that the UTF-8 text s takes. */
size_t format_display_width(const char *s);

/* Prints the table as a listing of kind. */
void format_print_table(FILE *out, const struct format_table *table, enum format_kind kind);

#define FORMAT_MAX_CHILDREN 8

struct format_child {
	const char *name;           /* the JSON key */
	const char *label;          /* the table kind's heading: "--- message 1", "--- events" */
	struct format_table *table; /* owned by the record */
	bool strings;               /* a one-column table printed as a list of strings */
};

#define FORMAT_MAX_NESTS 4

/* The table kind's text of one row of a nest (newly allocated): its first
 * line is printed indented by two spaces, any further lines by four. */
typedef char *format_line_fn(const struct format_table *table, size_t row);

/*
 * A nest: rows that belong to the rows of one of the record's table
 * children (a message's signature, its secure parts).  Column 0 of the
 * nest's table is the key: a row belongs to the child's row whose column 0
 * (its id) holds the same text.  The key is not printed.
 *   json   each parent object gets the nest's name: an array of objects,
 *          or (single) the one object, null when there is none
 *   table  under a child printed as blocks (one with a FORMAT_LONG column):
 *          a single nest as a field "name text" (or "name -"), a list
 *          after the block's long text, each row as line() says
 *   csv    nothing (no nesting)
 */
struct format_nest {
	const char *name;           /* the JSON key */
	size_t child;               /* index in the record's children */
	struct format_table *table; /* owned by the record */
	bool single;                /* at most one row per parent */
	format_line_fn *line;       /* NULL: the non-NULL cells joined by spaces */
};

struct format_record {
	struct format_table *fields; /* one row; owned */
	size_t nchildren;
	struct format_child children[FORMAT_MAX_CHILDREN];
	size_t nnests;
	struct format_nest nests[FORMAT_MAX_NESTS];
};

/* Adds a child; the record takes table.  Aborts past FORMAT_MAX_CHILDREN
 * (a bug: records are built by code, not from data). */
void format_record_add(struct format_record *record, const char *name, const char *label,
		       struct format_table *table, bool strings);
/* Adds a nest under the child named child_name; the record takes table.
 * Aborts past FORMAT_MAX_NESTS or for a child it does not have (bugs). */
void format_record_nest(struct format_record *record, const char *child_name, const char *name,
			struct format_table *table, bool single, format_line_fn *line);
/* The nest's table, or NULL when the record has no nest of that name. */
const struct format_table *format_record_nest_table(const struct format_record *record,
						    const char *name);
void format_record_free(struct format_record **record);

/* Prints the record: JSON as one object holding its children, the table
 * kind as "name value" lines, string lists on one line, each table child
 * under a "--- name" line, rows with a FORMAT_LONG column as blocks.  CSV
 * has no nesting: it prints the fields only (a one-row listing). */
void format_print_record(FILE *out, const struct format_record *record, enum format_kind kind);

#endif
