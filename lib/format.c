/*
 * format.c - listings and records as a table, JSON or CSV (format.h).
 *
 * Everything is built in a GString and written with one fputs, so a
 * listing is never half printed because a later cell was odd.
 */
#include "format.h"
#include "util.h"

#include <string.h>

/* Cells are cut at this many bytes before a table measures them: a
 * message body does not belong in a column. */
#define CELL_BYTES 4096

int format_parse_kind(const char *name, enum format_kind *kind_r)
{
	if (strcmp(name, "table") == 0)
		*kind_r = FORMAT_TABLE;
	else if (strcmp(name, "json") == 0)
		*kind_r = FORMAT_JSON;
	else if (strcmp(name, "csv") == 0)
		*kind_r = FORMAT_CSV;
	else
		return -1;
	return 0;
}

struct format_table *format_table_new(const struct format_column *columns, size_t ncolumns)
{
	struct format_table *t = g_new0(struct format_table, 1);

	t->columns = columns;
	t->ncolumns = ncolumns;
	t->rows = g_ptr_array_new();
	return t;
}

void format_table_add_row(struct format_table *table, const char *const *cells)
{
	char **row = g_new0(char *, table->ncolumns);

	for (size_t c = 0; c < table->ncolumns; c++)
		row[c] = g_strdup(cells[c]);
	g_ptr_array_add(table->rows, row);
}

size_t format_table_rows(const struct format_table *table)
{
	return table->rows->len;
}

const char *format_table_cell(const struct format_table *table, size_t row, size_t column)
{
	char **cells = g_ptr_array_index(table->rows, row);

	return cells[column];
}

void format_table_free(struct format_table **table)
{
	if (*table == NULL)
		return;
	for (guint r = 0; r < (*table)->rows->len; r++) {
		char **cells = g_ptr_array_index((*table)->rows, r);
		for (size_t c = 0; c < (*table)->ncolumns; c++)
			g_free(cells[c]);
		g_free(cells);
	}
	g_ptr_array_free((*table)->rows, TRUE);
	g_free(*table);
	*table = NULL;
}

void format_json_string(GString *out, const char *value)
{
	if (value == NULL) {
		g_string_append(out, "null");
		return;
	}
	g_string_append_c(out, '"');
	for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			g_string_append(out, "\\\"");
			break;
		case '\\':
			g_string_append(out, "\\\\");
			break;
		case '\n':
			g_string_append(out, "\\n");
			break;
		case '\r':
			g_string_append(out, "\\r");
			break;
		case '\t':
			g_string_append(out, "\\t");
			break;
		default:
			/* Bytes from 0x80 up are UTF-8 (the database's encoding) and
			 * pass as they are: RFC 8259 needs only controls escaped. */
			if (*p < 0x20 || *p == 0x7f)
				g_string_append_printf(out, "\\u%04x", *p);
			else
				g_string_append_c(out, (char)*p);
		}
	}
	g_string_append_c(out, '"');
}

void format_csv_field(GString *out, const char *value)
{
	if (value == NULL)
		return;
	if (strpbrk(value, ",\"\r\n") == NULL) {
		g_string_append(out, value);
		return;
	}
	g_string_append_c(out, '"');
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '"')
			g_string_append_c(out, '"');
		g_string_append_c(out, *p);
	}
	g_string_append_c(out, '"');
}

static size_t char_width(gunichar c)
{
	if (g_unichar_iszerowidth(c))
		return 0;
	return g_unichar_iswide(c) ? 2 : 1;
}

size_t format_display_width(const char *s)
{
	size_t width = 0;

	for (const char *p = s; *p != '\0'; p = g_utf8_next_char(p))
		width += char_width(g_utf8_get_char(p));
	return width;
}

/* Booleans in one spelling whatever the source: PostgreSQL's text form is t/f. */
static const char *cell_text(const struct format_column *col, const char *v)
{
	if (v != NULL && col->type == FORMAT_BOOLEAN)
		return v[0] == 't' ? "true" : "false";
	return v;
}

static void append_json_value(GString *out, const struct format_column *col, const char *v)
{
	if (v == NULL)
		g_string_append(out, "null");
	else if (col->type == FORMAT_NUMBER || col->type == FORMAT_BOOLEAN)
		g_string_append(out, cell_text(col, v));
	else
		format_json_string(out, v);
}

/* Appends a row as a JSON object from column first on, without its
 * closing brace, so that a record can add its children inside. */
static void append_json_object(GString *out, const struct format_table *t, size_t row, size_t first)
{
	g_string_append_c(out, '{');
	for (size_t c = first; c < t->ncolumns; c++) {
		if (c > first)
			g_string_append(out, ", ");
		format_json_string(out, t->columns[c].name);
		g_string_append(out, ": ");
		append_json_value(out, &t->columns[c], format_table_cell(t, row, c));
	}
}

static void append_json_array(GString *out, const struct format_table *t)
{
	size_t rows = format_table_rows(t);

	g_string_append_c(out, '[');
	for (size_t r = 0; r < rows; r++) {
		g_string_append(out, r > 0 ? ",\n  " : "\n  ");
		append_json_object(out, t, r, 0);
		g_string_append_c(out, '}');
	}
	g_string_append(out, rows > 0 ? "\n]" : "]");
}

static void append_json_strings(GString *out, const struct format_table *t)
{
	g_string_append_c(out, '[');
	for (size_t r = 0; r < format_table_rows(t); r++) {
		if (r > 0)
			g_string_append(out, ", ");
		format_json_string(out, format_table_cell(t, r, 0));
	}
	g_string_append_c(out, ']');
}

static void append_csv_line(GString *out, const struct format_table *t, size_t row, bool header)
{
	for (size_t c = 0; c < t->ncolumns; c++) {
		if (c > 0)
			g_string_append_c(out, ',');
		format_csv_field(out,
				 header ? t->columns[c].name
					: cell_text(&t->columns[c], format_table_cell(t, row, c)));
	}
	g_string_append(out, "\r\n");
}

static void append_csv(GString *out, const struct format_table *t)
{
	append_csv_line(out, t, 0, true);
	for (size_t r = 0; r < format_table_rows(t); r++)
		append_csv_line(out, t, r, false);
}

/* A table cell: one line, control characters replaced, cut to the
 * column's width. */
static char *table_cell(const struct format_column *col, const char *v)
{
	GString *cut;
	size_t width = 0;
	char *text;

	if (v == NULL)
		return g_strdup("-");
	text = log_sanitize(cell_text(col, v), CELL_BYTES);
	if (col->max_width <= 0 || format_display_width(text) <= (size_t)col->max_width)
		return text;
	cut = g_string_new(NULL);
	for (const char *p = text; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar ch = g_utf8_get_char(p);
		if (width + char_width(ch) > (size_t)col->max_width - 1)
			break;
		width += char_width(ch);
		g_string_append_unichar(cut, ch);
	}
	g_string_append(cut, "…");
	g_free(text);
	return g_string_free(cut, FALSE);
}

static void append_table(GString *out, const struct format_table *t)
{
	size_t rows = format_table_rows(t), *width = g_new0(size_t, t->ncolumns);

	for (size_t c = 0; c < t->ncolumns; c++)
		width[c] = format_display_width(t->columns[c].name);
	for (size_t r = 0; r < rows; r++)
		for (size_t c = 0; c < t->ncolumns; c++) {
			char *text = table_cell(&t->columns[c], format_table_cell(t, r, c));
			width[c] = MAX(width[c], format_display_width(text));
			g_free(text);
		}
	/* Row -1 is the header. */
	for (long r = -1; r < (long)rows; r++) {
		for (size_t c = 0; c < t->ncolumns; c++) {
			char *text = r < 0 ? g_ascii_strup(t->columns[c].name, -1)
					   : table_cell(&t->columns[c],
							format_table_cell(t, (size_t)r, c));
			g_string_append(out, text);
			if (c + 1 < t->ncolumns)
				for (size_t pad = format_display_width(text); pad <= width[c];
				     pad++)
					g_string_append_c(out, ' ');
			g_free(text);
		}
		g_string_append_c(out, '\n');
	}
	g_free(width);
}

void format_print_table(FILE *out, const struct format_table *table, enum format_kind kind)
{
	GString *s = g_string_new(NULL);

	if (kind == FORMAT_JSON) {
		append_json_array(s, table);
		g_string_append_c(s, '\n');
	} else if (kind == FORMAT_CSV) {
		append_csv(s, table);
	} else {
		append_table(s, table);
	}
	fputs(s->str, out);
	g_string_free(s, TRUE);
}

void format_record_add(struct format_record *record, const char *name, const char *label,
		       struct format_table *table, bool strings)
{
	if (record->nchildren == FORMAT_MAX_CHILDREN)
		log_panic("format_record_add: more than %d children", FORMAT_MAX_CHILDREN);
	record->children[record->nchildren++] = (struct format_child){
		.name = name, .label = label, .table = table, .strings = strings
	};
}

void format_record_nest(struct format_record *record, const char *child_name, const char *name,
			struct format_table *table, bool single, format_line_fn *line)
{
	size_t child = 0;

	while (child < record->nchildren && strcmp(record->children[child].name, child_name) != 0)
		child++;
	if (child == record->nchildren || record->children[child].strings)
		log_panic("format_record_nest: no table child %s", child_name);
	if (record->nnests == FORMAT_MAX_NESTS)
		log_panic("format_record_nest: more than %d nests", FORMAT_MAX_NESTS);
	record->nests[record->nnests++] = (struct format_nest){
		.name = name, .child = child, .table = table, .single = single, .line = line
	};
}

const struct format_table *format_record_nest_table(const struct format_record *record,
						    const char *name)
{
	for (size_t i = 0; i < record->nnests; i++)
		if (strcmp(record->nests[i].name, name) == 0)
			return record->nests[i].table;
	return NULL;
}

void format_record_free(struct format_record **record)
{
	if (*record == NULL)
		return;
	format_table_free(&(*record)->fields);
	for (size_t i = 0; i < (*record)->nchildren; i++)
		format_table_free(&(*record)->children[i].table);
	for (size_t i = 0; i < (*record)->nnests; i++)
		format_table_free(&(*record)->nests[i].table);
	g_free(*record);
	*record = NULL;
}

/* The rows of each nest by their key, made once per printing so that a
 * ticket with many messages is not a quadratic walk. */
struct nest_index {
	GHashTable *rows[FORMAT_MAX_NESTS]; /* key → GArray of guint */
};

static void nest_index_build(const struct format_record *rec, struct nest_index *ix)
{
	for (size_t n = 0; n < rec->nnests; n++) {
		const struct format_table *t = rec->nests[n].table;

		ix->rows[n] = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
						    (GDestroyNotify)g_array_unref);
		for (guint r = 0; r < format_table_rows(t); r++) {
			const char *key = format_table_cell(t, r, 0);
			GArray *rows;

			if (key == NULL)
				continue;
			rows = g_hash_table_lookup(ix->rows[n], key);
			if (rows == NULL) {
				rows = g_array_new(FALSE, FALSE, sizeof(guint));
				g_hash_table_insert(ix->rows[n], (char *)key, rows);
			}
			g_array_append_val(rows, r);
		}
	}
}

static void nest_index_free(const struct format_record *rec, struct nest_index *ix)
{
	for (size_t n = 0; n < rec->nnests; n++)
		g_hash_table_destroy(ix->rows[n]);
}

/* Nest n's rows (guint) that belong to the parent row with key, or NULL. */
static const GArray *nest_rows(const struct nest_index *ix, size_t n, const char *key)
{
	return key != NULL ? g_hash_table_lookup(ix->rows[n], key) : NULL;
}

static void append_json_nest(GString *out, const struct format_nest *nest, const GArray *rows)
{
	guint count = rows != NULL ? rows->len : 0;

	if (nest->single) {
		if (count == 0) {
			g_string_append(out, "null");
			return;
		}
		append_json_object(out, nest->table, g_array_index(rows, guint, 0), 1);
		g_string_append_c(out, '}');
		return;
	}
	g_string_append_c(out, '[');
	for (guint i = 0; i < count; i++) {
		if (i > 0)
			g_string_append(out, ", ");
		append_json_object(out, nest->table, g_array_index(rows, guint, i), 1);
		g_string_append_c(out, '}');
	}
	g_string_append_c(out, ']');
}

/* Child i of rec as a JSON array, its nests inside each object. */
static void append_json_child(GString *out, const struct format_record *rec, size_t i,
			      const struct nest_index *ix)
{
	const struct format_table *t = rec->children[i].table;
	size_t rows = format_table_rows(t);

	g_string_append_c(out, '[');
	for (size_t r = 0; r < rows; r++) {
		g_string_append(out, r > 0 ? ",\n  " : "\n  ");
		append_json_object(out, t, r, 0);
		for (size_t n = 0; n < rec->nnests; n++) {
			if (rec->nests[n].child != i)
				continue;
			g_string_append(out, ", ");
			format_json_string(out, rec->nests[n].name);
			g_string_append(out, ": ");
			append_json_nest(out, &rec->nests[n],
					 nest_rows(ix, n, format_table_cell(t, r, 0)));
		}
		g_string_append_c(out, '}');
	}
	g_string_append(out, rows > 0 ? "\n]" : "]");
}

/* Appends len bytes of text as one line: control characters (C0, DEL,
 * C1; a tab stays) and bytes that are not UTF-8 become '?', so that text
 * from outside cannot move the terminal's cursor. */
static void append_clean_line(GString *out, const char *text, size_t len)
{
	const char *p = text, *end = text + len;

	if (len > 0 && end[-1] == '\r')
		end--;
	while (p < end) {
		gunichar c = g_utf8_get_char_validated(p, end - p);

		if (c == (gunichar)-1 || c == (gunichar)-2) {
			g_string_append_c(out, '?');
			p++;
			continue;
		}
		if ((c < 0x20 && c != '\t') || (c >= 0x7f && c < 0xa0))
			g_string_append_c(out, '?');
		else
			g_string_append_unichar(out, c);
		p = g_utf8_next_char(p);
	}
}

/* The default text of a nest's row: its cells after the key, by spaces. */
static char *default_line(const struct format_table *t, size_t row)
{
	GString *s = g_string_new(NULL);

	for (size_t c = 1; c < t->ncolumns; c++) {
		const char *v = format_table_cell(t, row, c);
		if (v == NULL)
			continue;
		if (s->len > 0)
			g_string_append_c(s, ' ');
		g_string_append(s, cell_text(&t->columns[c], v));
	}
	return g_string_free(s, FALSE);
}

/* A nest row's text: the first line after indent, the others after
 * indent + 2; nothing of it is cut. */
static void append_nest_text(GString *out, const struct format_nest *nest, guint row, int indent)
{
	char *text = (nest->line != NULL ? nest->line : default_line)(nest->table, row);
	const char *p = text;
	bool first = true;

	do {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);

		if (!first || indent > 0)
			g_string_append_printf(out, "%*s", first ? indent : indent + 2, "");
		append_clean_line(out, p, len);
		g_string_append_c(out, '\n');
		first = false;
		p = nl != NULL ? nl + 1 : NULL;
	} while (p != NULL && *p != '\0');
	g_free(text);
}

/* "name value" lines of one row from column first on, then the FORMAT_LONG
 * columns after a blank line.  For a child of a record (rec and ix not
 * NULL), its single nests are fields too, and its other nests follow the
 * long text. */
static void append_block(GString *out, const struct format_table *t, size_t row, size_t first,
			 const struct format_record *rec, size_t child, const struct nest_index *ix)
{
	const char *key = format_table_cell(t, row, 0);
	size_t nnests = rec != NULL ? rec->nnests : 0;
	bool lines = false;
	int width = 10;

	for (size_t c = first; c < t->ncolumns; c++)
		width = MAX(width, (int)strlen(t->columns[c].name));
	for (size_t n = 0; n < nnests; n++)
		if (rec->nests[n].child == child && rec->nests[n].single)
			width = MAX(width, (int)strlen(rec->nests[n].name));
	for (size_t c = first; c < t->ncolumns; c++) {
		const char *v = format_table_cell(t, row, c);
		char *text;

		if (t->columns[c].type == FORMAT_LONG)
			continue;
		text = v == NULL ? g_strdup("-")
				 : log_sanitize(cell_text(&t->columns[c], v), CELL_BYTES);
		g_string_append_printf(out, "%-*s %s\n", width, t->columns[c].name, text);
		g_free(text);
	}
	for (size_t n = 0; n < nnests; n++) {
		const struct format_nest *nest = &rec->nests[n];
		const GArray *rows = nest_rows(ix, n, key);

		if (nest->child != child || !nest->single)
			continue;
		g_string_append_printf(out, "%-*s ", width, nest->name);
		if (rows == NULL || rows->len == 0)
			g_string_append(out, "-\n");
		else
			append_nest_text(out, nest, g_array_index(rows, guint, 0), 0);
	}
	for (size_t c = first; c < t->ncolumns; c++) {
		const char *v = format_table_cell(t, row, c);
		if (t->columns[c].type != FORMAT_LONG || v == NULL)
			continue;
		g_string_append_printf(out, "\n%s", v);
		if (!g_str_has_suffix(v, "\n"))
			g_string_append_c(out, '\n');
	}
	for (size_t n = 0; n < nnests; n++) {
		const struct format_nest *nest = &rec->nests[n];
		const GArray *rows = nest_rows(ix, n, key);

		if (nest->child != child || nest->single || rows == NULL)
			continue;
		for (guint i = 0; i < rows->len; i++) {
			if (!lines)
				g_string_append_c(out, '\n');
			lines = true;
			append_nest_text(out, nest, g_array_index(rows, guint, i), 2);
		}
	}
}

static bool has_long_column(const struct format_table *t)
{
	for (size_t c = 0; c < t->ncolumns; c++)
		if (t->columns[c].type == FORMAT_LONG)
			return true;
	return false;
}

static void append_record_table(GString *out, const struct format_record *rec,
				const struct nest_index *ix)
{
	append_block(out, rec->fields, 0, 0, NULL, 0, NULL);
	for (size_t i = 0; i < rec->nchildren; i++) {
		const struct format_child *ch = &rec->children[i];

		if (ch->strings) {
			g_string_append_printf(out, "%-10s", ch->name);
			if (format_table_rows(ch->table) == 0)
				g_string_append(out, " -");
			for (size_t r = 0; r < format_table_rows(ch->table); r++) {
				char *text = log_sanitize(format_table_cell(ch->table, r, 0),
							  CELL_BYTES);
				g_string_append_printf(out, " %s", text);
				g_free(text);
			}
			g_string_append_c(out, '\n');
		} else if (has_long_column(ch->table)) {
			/* Messages read as mail, not as a row of a table; the
			 * first column (the id) is in the heading. */
			for (size_t r = 0; r < format_table_rows(ch->table); r++) {
				char *id = log_sanitize(format_table_cell(ch->table, r, 0),
							CELL_BYTES);
				g_string_append_printf(out, "\n--- %s %s\n", ch->label, id);
				g_free(id);
				append_block(out, ch->table, r, 1, rec, i, ix);
			}
		} else {
			g_string_append_printf(out, "\n--- %s\n", ch->label);
			append_table(out, ch->table);
		}
	}
}

void format_print_record(FILE *out, const struct format_record *record, enum format_kind kind)
{
	GString *s = g_string_new(NULL);
	struct nest_index ix = { { NULL } };

	nest_index_build(record, &ix);
	if (kind == FORMAT_JSON) {
		append_json_object(s, record->fields, 0, 0);
		for (size_t i = 0; i < record->nchildren; i++) {
			const struct format_child *ch = &record->children[i];
			g_string_append(s, ",\n ");
			format_json_string(s, ch->name);
			g_string_append(s, ": ");
			if (ch->strings)
				append_json_strings(s, ch->table);
			else
				append_json_child(s, record, i, &ix);
		}
		g_string_append(s, "}\n");
	} else if (kind == FORMAT_CSV) {
		append_csv(s, record->fields);
	} else {
		append_record_table(s, record, &ix);
	}
	nest_index_free(record, &ix);
	fputs(s->str, out);
	g_string_free(s, TRUE);
}
