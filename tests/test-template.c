/*
 * test-template.c - unit tests for lib/template.c: parsing, errors with
 * lines, header blocks, header injection, the built-ins and the sample files.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "message.h"
#include "tap.h"
#include "template.h"
#include "util.h"

struct var {
	const char *name, *value;
};

static const struct var test_vars[] = {
	{ "ticket.id", "42" },
	{ "ticket.subject", "Printer on fire" },
	{ "ticket.tag", "[Ticket#42]" },
	{ "ticket.priority", "50" },
	{ "requestor.email", "carol@example.org" },
	{ "staff.name", "Alice Woods" },
	{ NULL, NULL },
};

static const char *lookup_table(void *ctx, const char *name)
{
	const struct var *vars = ctx;

	for (size_t i = 0; vars[i].name != NULL; i++)
		if (strcmp(vars[i].name, name) == 0)
			return vars[i].value;
	return NULL;
}

/* Renders every variable as <name>, to compare templates by structure. */
static const char *lookup_echo(void *ctx, const char *name)
{
	GPtrArray *keep = ctx;
	char *v = g_strdup_printf("<%s>", name);

	g_ptr_array_add(keep, v);
	return v;
}

static char *render_text(const struct template *tpl, template_lookup_fn *fn, void *ctx)
{
	struct template_output *out = NULL;
	GString *s = g_string_new(NULL);
	char *error = NULL;

	if (template_render(tpl, fn, ctx, &out, &error) < 0) {
		g_string_append_printf(s, "ERROR %s", error);
		g_free(error);
		return g_string_free(s, FALSE);
	}
	for (size_t i = 0; i < out->headers->len; i++) {
		const struct mail_header *h = g_ptr_array_index(out->headers, i);
		g_string_append_printf(s, "%s: %s\n", h->name, h->value);
	}
	g_string_append_printf(s, "\n%s", out->body);
	template_output_free(&out);
	return g_string_free(s, FALSE);
}

static int parse(const char *text, struct template **tpl, char **error)
{
	return template_parse("t.txt", text, strlen(text), tpl, error);
}

static void test_basic(void)
{
	struct template *tpl = NULL;
	struct template_output *out = NULL;
	char *error = NULL;

	is_int(parse("Hello {{ticket.id}} and {{  ticket.subject  }}.\n{{staff.signature}}|", &tpl,
		     &error),
	       0, "simple template parses");
	is_str(error, NULL, "no error");
	is_int(template_render(tpl, lookup_table, (void *)test_vars, &out, &error), 0, "renders");
	is_str(out->body, "Hello 42 and Printer on fire.\n|",
	       "variables substituted, NULL is empty");
	is_int(out->headers->len, 0, "no header block");
	template_output_free(&out);
	ok(out == NULL, "output_free sets NULL");
	template_free(&tpl);
	ok(tpl == NULL, "template_free sets NULL");

	is_int(parse("[{{ticket.subject}}]", &tpl, &error), 0, "one variable");
	{
		static const struct var sneaky[] = { { "ticket.subject", "{{ticket.id}} {{x" },
						     { NULL, NULL } };
		is_int(template_render(tpl, lookup_table, (void *)sneaky, &out, &error), 0,
		       "renders");
	}
	is_str(out->body, "[{{ticket.id}} {{x]", "values are never expanded again");
	template_output_free(&out);
	template_free(&tpl);

	is_int(parse("no variables at all", &tpl, &error), 0, "plain text");
	is_int(template_render(tpl, lookup_table, (void *)test_vars, &out, &error), 0, "renders");
	is_str(out->body, "no variables at all", "plain text unchanged");
	template_output_free(&out);
	template_free(&tpl);

	is_int(parse("a } b }} c { d {x}", &tpl, &error), 0, "single braces and lone }} are text");
	is_int(template_render(tpl, lookup_table, (void *)test_vars, &out, &error), 0, "renders");
	is_str(out->body, "a } b }} c { d {x}", "braces kept");
	template_output_free(&out);
	template_free(&tpl);

	is_int(parse("line1\r\nline2 {{ticket.id}}\r\n", &tpl, &error), 0, "CRLF template");
	is_int(template_render(tpl, lookup_table, (void *)test_vars, &out, &error), 0, "renders");
	is_str(out->body, "line1\nline2 42\n", "CRLF became LF");
	template_output_free(&out);
	template_free(&tpl);

	is_int(parse("", &tpl, &error), 0, "empty template");
	template_free(&tpl);
}

static void test_errors(void)
{
	struct template *tpl = NULL;
	char *error = NULL;

	is_int(parse("line one\nline two {{ticket.idd}}\n", &tpl, &error), -1, "unknown variable");
	is_str(error, "t.txt:2: unknown variable {{ticket.idd}}", "origin, line and name");
	ok(tpl == NULL, "no template on error");
	g_free(error);
	error = NULL;

	is_int(parse("a\nb\nc {{ ticket.id\n}}\n", &tpl, &error), -1, "unclosed {{");
	like(error, "t.txt:3: unclosed {{", "unclosed reported at its line");
	g_free(error);
	error = NULL;

	is_int(parse("x {{ticket.id", &tpl, &error), -1, "unclosed at end of text");
	like(error, "t.txt:1: unclosed {{", "reported");
	g_free(error);
	error = NULL;

	is_int(parse("{{}}\n{{foo}} {{ticket.id}}\n\n{{bar}} {{ \n", &tpl, &error), -1,
	       "several errors");
	is_str(error,
	       "t.txt:1: unknown variable {{}}\n"
	       "t.txt:2: unknown variable {{foo}}\n"
	       "t.txt:4: unknown variable {{bar}}\n"
	       "t.txt:4: unclosed {{ (a variable is written {{name}} on one line)",
	       "all errors, in order, one per line");
	g_free(error);
	error = NULL;

	is_int(template_parse("t.txt", "ok\nbad \xff\xfe here\n", 17, &tpl, &error), -1,
	       "invalid UTF-8 refused");
	is_str(error, "t.txt:2: invalid UTF-8", "with its line");
	g_free(error);
	error = NULL;

	is_int(template_parse("t.txt", "a\n\nb\0c", 6, &tpl, &error), -1, "NUL byte refused");
	is_str(error, "t.txt:3: contains a NUL byte", "with its line");
	g_free(error);
	error = NULL;

	is_int(parse("Subject: x\nX-Mailer: y\nFrom: {{nope}}\n\nbody", &tpl, &error), -1,
	       "bad header block line");
	like(error, "t.txt:2: not an allowed header line", "unknown header named with its line");
	like(error, "t.txt:3: unknown variable {{nope}}", "variable in a header checked too");
	g_free(error);
	error = NULL;

	is_int(parse("Subject: a\nsubject: b\n\nbody", &tpl, &error), -1, "header given twice");
	like(error, "t.txt:2: header Subject given twice", "duplicate header reported");
	g_free(error);
	error = NULL;

	is_int(template_render(NULL, lookup_table, NULL, NULL, &error), -1,
	       "render without template");
	ok(error != NULL, "has an error");
	g_free(error);
}

static void test_headers(void)
{
	struct template *tpl = NULL;
	struct template_output *out = NULL;
	const struct mail_header *h;
	char *error = NULL;
	static const struct var evil[] = {
		{ "ticket.subject", "Hi\r\nBcc: victim@example.net\r\n\r\nforged" },
		{ "ticket.tag", "[Ticket#7]" },
		{ "requestor.name", "Eve\nX: y" },
		{ NULL, NULL },
	};

	is_int(parse("subject: Re: {{ticket.subject}} {{ticket.tag}}\n"
		     "REPLY-TO:   {{requestor.name}} <help@example.com>\n"
		     "From: Help\n"
		     "  Desk <help@example.com>\n"
		     "\n"
		     "Body line {{ticket.subject}}\n",
		     &tpl, &error),
	       0, "header block parses");
	is_int(template_render(tpl, lookup_table, (void *)evil, &out, &error), 0, "renders");
	is_int(out->headers->len, 3, "three headers");
	h = g_ptr_array_index(out->headers, 0);
	is_str(h->name, "Subject", "canonical header name");
	is_str(h->value, "Re: Hi Bcc: victim@example.net forged [Ticket#7]",
	       "CR/LF removed from a header value");
	ok(strpbrk(h->value, "\r\n") == NULL, "no CR or LF in Subject");
	h = g_ptr_array_index(out->headers, 1);
	is_str(h->name, "Reply-To", "Reply-To recognised case-insensitively");
	is_str(h->value, "Eve X: y <help@example.com>", "Reply-To value, LF removed");
	h = g_ptr_array_index(out->headers, 2);
	is_str(h->name, "From", "From");
	is_str(h->value, "Help Desk <help@example.com>", "folded continuation joined");
	is_str(out->body, "Body line Hi\r\nBcc: victim@example.net\r\n\r\nforged\n",
	       "body keeps the text as it is; the header block is not in the body");
	template_output_free(&out);
	template_free(&tpl);

	is_int(parse("Dear customer: hello\n\nsecond", &tpl, &error), 0,
	       "first line that is not an allowed header is body");
	is_int(template_render(tpl, lookup_table, (void *)test_vars, &out, &error), 0, "renders");
	is_int(out->headers->len, 0, "no headers");
	is_str(out->body, "Dear customer: hello\n\nsecond", "all body");
	template_output_free(&out);
	template_free(&tpl);

	is_int(parse("Note: {{ticket.id}}\nSubject: x\n", &tpl, &error), 0,
	       "unknown name on the first line: no header block");
	is_int(template_render(tpl, lookup_table, (void *)test_vars, &out, &error), 0, "renders");
	is_int(out->headers->len, 0, "no headers");
	is_str(out->body, "Note: 42\nSubject: x\n", "Subject: later is body text");
	template_output_free(&out);
	template_free(&tpl);

	is_int(parse("Subject: only headers", &tpl, &error), 0, "headers without body");
	is_int(template_render(tpl, lookup_table, (void *)test_vars, &out, &error), 0, "renders");
	is_int(out->headers->len, 1, "one header");
	is_str(out->body, "", "empty body");
	template_output_free(&out);
	template_free(&tpl);
}

static char *find_top(void)
{
	const char *env = getenv("TICKETD_TOP");
	const char *const tries[] = { env != NULL ? env : ".", ".", "..", NULL };

	for (size_t i = 0; tries[i] != NULL; i++) {
		char *p = g_build_filename(tries[i], "etc/templates/new_ticket.txt", NULL);
		bool found = g_file_test(p, G_FILE_TEST_EXISTS);
		g_free(p);
		if (found)
			return g_strdup(tries[i]);
	}
	return NULL;
}

static void test_builtins(void)
{
	char *top = find_top();

	ok(top != NULL, "found etc/templates");
	is_str(template_kind_names[TEMPLATE_ESCALATION], "escalation", "kind names");
	ok(template_builtin(TEMPLATE_KIND_COUNT) == NULL, "no built-in for a bad kind");
	for (int k = 0; k < TEMPLATE_KIND_COUNT; k++) {
		struct template *tpl = template_builtin(k), *file_tpl = NULL;
		struct template_output *out = NULL;
		GPtrArray *keep = g_ptr_array_new_with_free_func(g_free);
		char *error = NULL, *name, *path, *a, *b;

		name = g_strdup_printf("built-in %s", template_kind_names[k]);
		ok(tpl != NULL, name);
		is_int(template_render(tpl, lookup_table, (void *)test_vars, &out, &error), 0,
		       "built-in renders");
		ok(out->body != NULL && strlen(out->body) > 20 &&
			   g_utf8_validate(out->body, -1, NULL),
		   "built-in has text");
		ok(strstr(out->body, "{{") == NULL, "no variable left over");
		template_output_free(&out);

		path = g_strdup_printf("%s/etc/templates/%s.txt", top != NULL ? top : ".",
				       template_kind_names[k]);
		is_int(template_load_file(path, &file_tpl, &error), 0, "sample file loads");
		is_str(error, NULL, path);
		a = render_text(tpl, lookup_echo, keep);
		b = file_tpl != NULL ? render_text(file_tpl, lookup_echo, keep) : g_strdup("");
		is_str(b, a, "sample file equals the built-in");
		if (k == TEMPLATE_NEW_TICKET) {
			like(a, "<ticket.tag>", "new_ticket names the ticket tag");
			like(a, "keep <ticket.tag> in the subject", "and asks to keep it");
			like(a, "<ticket.subject>", "and quotes the subject");
		}
		if (k == TEMPLATE_ANSWER) {
			like(a, "Assigned to: <staff.title>", "answer: assigned");
			like(a, "<message.text>\n\n-- \n<staff.signature>\n\n<message.quoted>",
			     "answer: text, signature, quote");
		}
		if (k == TEMPLATE_CLOSED)
			like(a, "reopened", "closed mentions reopening");
		g_free(a);
		g_free(b);
		g_free(path);
		g_free(name);
		g_ptr_array_free(keep, TRUE);
		template_free(&file_tpl);
		template_free(&tpl);
	}
	g_free(top);
}

static void test_load_file(void)
{
	char dir[] = "/tmp/test-template-XXXXXX";
	struct template *tpl = NULL;
	char *error = NULL, *path, *big;

	ok(mkdtemp(dir) != NULL, "mkdtemp");
	path = g_build_filename(dir, "t.txt", NULL);
	g_file_set_contents(path, "Subject: {{ticket.tag}}\n\nHi\n{{requestor.mail}}\n", -1, NULL);
	is_int(template_load_file(path, &tpl, &error), -1, "file with unknown variable");
	ok(error != NULL && g_str_has_prefix(error, path), "error starts with the path");
	like(error, ":4: unknown variable {{requestor.mail}}", "and the line in the file");
	g_free(error);
	error = NULL;

	big = g_malloc(2 * 1024 * 1024);
	memset(big, 'a', 2 * 1024 * 1024);
	g_file_set_contents(path, big, 2 * 1024 * 1024, NULL);
	is_int(template_load_file(path, &tpl, &error), -1, "a file over 1 MiB is refused");
	like(error, "larger than", "size limit");
	g_free(error);
	error = NULL;
	g_free(big);
	unlink(path);

	is_int(template_load_file(path, &tpl, &error), -1, "missing file");
	like(error, path, "error names it");
	g_free(error);
	g_free(path);
	rmdir(dir);
}

int main(void)
{
	test_basic();
	test_errors();
	test_headers();
	test_builtins();
	test_load_file();
	return tap_done();
}
