/*
 * template.h - the templates of outgoing mail (DESIGN §5 "Templates").
 *
 * A template is UTF-8 text.  An optional first block of header lines
 * ("Subject: ...", "From: ..."), ended by an empty line, overrides headers;
 * the block is recognised only when the very first line looks like
 * "Name: value" with a name from the allowed list (Subject, From, Reply-To).  Variables are written
 * {{ticket.id}} (spaces inside the braces allowed).  The set of variables is
 * fixed (template_variables[]); an unknown one is an error at parse time,
 * reported as "FILE:LINE: unknown variable {{name}}".  Rendering substitutes
 * text and never executes anything.
 *
 * Memory: templates are owned by the caller and freed with template_free();
 * built-in templates come from template_builtin() and are also the caller's.
 * Errors go to *error_r (newly allocated), one line per problem.
 */
#ifndef TICKETD_TEMPLATE_H
#define TICKETD_TEMPLATE_H

#include <glib.h>

enum template_kind {
	TEMPLATE_NEW_TICKET,
	TEMPLATE_CLOSED,
	TEMPLATE_ANSWER,
	TEMPLATE_NOTIFICATION,
	TEMPLATE_REFUSAL,
	TEMPLATE_ESCALATION,
	TEMPLATE_KIND_COUNT
};

/* Config key names, indexed by kind: "new_ticket", "closed", "answer",
 * "notification", "refusal", "escalation". */
extern const char *const template_kind_names[TEMPLATE_KIND_COUNT];
/* NULL-terminated list of every known variable name ("ticket.id", ...). */
extern const char *const template_variables[];

struct template;

/* Returns the variable's value (UTF-8) or NULL for "" . */
typedef const char *template_lookup_fn(void *ctx, const char *name);

struct template_output {
	GPtrArray *headers; /* struct mail_header * from message.h: overrides */
	char *body;         /* rendered UTF-8 text */
};

/* origin names the file (or "built-in new_ticket") in error messages. */
int template_parse(const char *origin, const char *text, size_t len, struct template **tpl_r,
		   char **error_r);
int template_load_file(const char *path, struct template **tpl_r, char **error_r);
struct template *template_builtin(enum template_kind kind);
void template_free(struct template **tpl);

int template_render(const struct template *tpl, template_lookup_fn *lookup, void *ctx,
		    struct template_output **out_r, char **error_r);
void template_output_free(struct template_output **out);

#endif
