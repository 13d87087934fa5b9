/* test-format.c - lib/format.c: JSON escaping, CSV quoting (RFC 4180), table
 * widths with multibyte UTF-8, and records as ticketctl show prints them. */
#include "format.h"
#include "tap.h"

#include <stdlib.h>

static char *json(const char *value)
{
	GString *s = g_string_new(NULL);

	format_json_string(s, value);
	return g_string_free(s, FALSE);
}

static char *csv(const char *value)
{
	GString *s = g_string_new(NULL);

	format_csv_field(s, value);
	return g_string_free(s, FALSE);
}

/* What a printer writes, as a string. */
static char *printed(const struct format_table *t, const struct format_record *rec,
		     enum format_kind kind)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (rec != NULL)
		format_print_record(f, rec, kind);
	else
		format_print_table(f, t, kind);
	fclose(f);
	return buf;
}

static void test_json(void)
{
	char *s;

	is_str(s = json(NULL), "null", "NULL is null");
	g_free(s);
	is_str(s = json("a\"b\\c"), "\"a\\\"b\\\\c\"", "quote and backslash escaped");
	g_free(s);
	is_str(s = json("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"", "newline, CR, tab as short escapes");
	g_free(s);
	is_str(s = json("\x01x\x1f\x7f"), "\"\\u0001x\\u001f\\u007f\"",
	       "other control characters as \\u00XX");
	g_free(s);
	is_str(s = json("Grüße 日本 😀"), "\"Grüße 日本 😀\"", "UTF-8 passes unescaped");
	g_free(s);
	is_str(s = json("</script>"), "\"</script>\"", "a slash needs no escape");
	g_free(s);
}

static void test_csv(void)
{
	char *s;

	is_str(s = csv("plain"), "plain", "a plain field is not quoted");
	g_free(s);
	is_str(s = csv(NULL), "", "NULL is an empty field");
	g_free(s);
	is_str(s = csv("a,b"), "\"a,b\"", "a comma is quoted");
	g_free(s);
	is_str(s = csv("say \"hi\""), "\"say \"\"hi\"\"\"", "quotes are doubled inside quotes");
	g_free(s);
	is_str(s = csv("l1\nl2"), "\"l1\nl2\"", "a newline is quoted and kept");
	g_free(s);
	is_str(s = csv("l1\r\n"), "\"l1\r\n\"", "CR LF is quoted");
	g_free(s);
	is_str(s = csv("Grüße"), "Grüße", "UTF-8 is not quoted");
	g_free(s);
}

static const struct format_column cols[] = {
	{ "id", FORMAT_NUMBER, 0 },
	{ "subject", FORMAT_TEXT, 8 },
	{ "sticky", FORMAT_BOOLEAN, 0 },
	{ "who", FORMAT_TEXT, 0 },
};

static struct format_table *sample(void)
{
	struct format_table *t = format_table_new(cols, 4);

	format_table_add_row(t, (const char *const[]){ "1", "Grüße", "t", NULL });
	format_table_add_row(t, (const char *const[]){ "22", "日本語の件名です", "f", "a,\"b\"" });
	return t;
}

static void test_listing(void)
{
	struct format_table *t = sample();
	char *s;

	is_int(format_display_width("Grüße"), 5, "an umlaut is one column");
	is_int(format_display_width("日本"), 4, "a CJK character is two columns");
	is_int(format_display_width("e\xcc\x81"), 1, "a combining accent takes none");

	s = printed(t, NULL, FORMAT_TABLE);
	is_str(s,
	       "ID SUBJECT STICKY WHO\n"
	       "1  Grüße   true   -\n"
	       "22 日本語… false  a,\"b\"\n",
	       "table: aligned by display width, cut to 8 columns with …, NULL as -");
	free(s);

	s = printed(t, NULL, FORMAT_JSON);
	is_str(s,
	       "[\n"
	       "  {\"id\": 1, \"subject\": \"Grüße\", \"sticky\": true, \"who\": null},\n"
	       "  {\"id\": 22, \"subject\": \"日本語の件名です\", \"sticky\": false, "
	       "\"who\": \"a,\\\"b\\\"\"}\n"
	       "]\n",
	       "json: numbers and booleans bare, NULL null, nothing cut");
	free(s);

	s = printed(t, NULL, FORMAT_CSV);
	is_str(s,
	       "id,subject,sticky,who\r\n"
	       "1,Grüße,true,\r\n"
	       "22,日本語の件名です,false,\"a,\"\"b\"\"\"\r\n",
	       "csv: header, CRLF, quoting only where needed");
	free(s);
	format_table_free(&t);
	ok(t == NULL, "format_table_free sets the pointer to NULL");

	t = format_table_new(cols, 4);
	s = printed(t, NULL, FORMAT_JSON);
	is_str(s, "[]\n", "an empty listing is []");
	free(s);
	s = printed(t, NULL, FORMAT_TABLE);
	is_str(s, "ID SUBJECT STICKY WHO\n", "an empty table is its header");
	free(s);
	format_table_free(&t);
}

static const struct format_column msg_cols[] = {
	{ "id", FORMAT_NUMBER, 0 },
	{ "from", FORMAT_TEXT, 0 },
	{ "text", FORMAT_LONG, 0 },
};
static const struct format_column str_col[] = { { "value", FORMAT_TEXT, 0 } };

static void test_record(void)
{
	struct format_record *rec = g_new0(struct format_record, 1);
	struct format_table *t;
	char *s;

	rec->fields = format_table_new(cols, 4);
	format_table_add_row(rec->fields, (const char *const[]){ "7", "Hi", "f", "bob" });
	t = format_table_new(str_col, 1);
	format_table_add_row(t, (const char *const[]){ "c@example.com" });
	format_record_add(rec, "cc", "cc", t, true);
	format_record_add(rec, "tags", "tags", format_table_new(str_col, 1), true);
	t = format_table_new(msg_cols, 3);
	format_table_add_row(t, (const char *const[]){ "3", "x@example.com", "line 1\nline 2" });
	format_record_add(rec, "messages", "message", t, false);

	s = printed(NULL, rec, FORMAT_JSON);
	is_str(s,
	       "{\"id\": 7, \"subject\": \"Hi\", \"sticky\": false, \"who\": \"bob\",\n"
	       " \"cc\": [\"c@example.com\"],\n"
	       " \"tags\": [],\n"
	       " \"messages\": [\n"
	       "  {\"id\": 3, \"from\": \"x@example.com\", \"text\": \"line 1\\nline 2\"}\n"
	       "]}\n",
	       "record as one JSON object with its children");
	free(s);
	s = printed(NULL, rec, FORMAT_TABLE);
	is_str(s,
	       "id         7\n"
	       "subject    Hi\n"
	       "sticky     false\n"
	       "who        bob\n"
	       "cc         c@example.com\n"
	       "tags       -\n"
	       "\n--- message 3\n"
	       "from       x@example.com\n"
	       "\nline 1\nline 2\n",
	       "record as fields, a string list on one line, long text as a block");
	free(s);
	s = printed(NULL, rec, FORMAT_CSV);
	is_str(s, "id,subject,sticky,who\r\n7,Hi,false,bob\r\n", "record as CSV: its fields");
	free(s);
	format_record_free(&rec);
	ok(rec == NULL, "format_record_free sets the pointer to NULL");
}

static void test_kind(void)
{
	enum format_kind k = FORMAT_TABLE;

	ok(format_parse_kind("csv", &k) == 0 && k == FORMAT_CSV, "csv is a format");
	ok(format_parse_kind("json", &k) == 0 && k == FORMAT_JSON, "json is a format");
	ok(format_parse_kind("table", &k) == 0 && k == FORMAT_TABLE, "table is a format");
	ok(format_parse_kind("xml", &k) < 0, "xml is not");
}

int main(void)
{
	test_json();
	test_csv();
	test_listing();
	test_record();
	test_kind();
	return tap_done();
}
