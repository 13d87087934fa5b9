/*
 * commands.c - the staff mail's text above the reply separator, its command
 * block, and the role rules for the commands (see commands.h).
 *
 * Lines end in LF or CRLF; a CR before the LF is never part of a line's
 * content.  Nothing here trusts the text: every length is bounded by
 * COMMANDS_LINE_MAX or COMMANDS_WORD_MAX before it is copied, and what is
 * quoted back in a reason passes log_sanitize().
 */
#include "commands.h"
#include "address.h"
#include "util.h"

#include <string.h>

const char commands_help[] =
	"#assign LOGIN     give the ticket to LOGIN (admins only)\n"
	"#pickup           take the ticket yourself\n"
	"#release          give the ticket back to nobody\n"
	"#priority N       set the priority, 1 to 99 (higher first)\n"
	"#status S         new, assigned, answered, on-hold, reopened, resolved, closed\n"
	"#sticky on|off    keep the ticket with its assignee on customer replies\n"
	"#queue NAME       move the ticket to queue NAME\n"
	"#close            close the ticket\n"
	"#reopen           reopen the ticket\n"
	"#note             the whole mail is an internal note, not sent to the customer\n"
	"#cc ADDR          add ADDR to the ticket's CC addresses\n"
	"#tag WORD         tag the ticket (letters, digits, '-', '_', '.')\n"
	"#link N           link the ticket to ticket N\n"
	"#requestor ADDR   make ADDR the ticket's requestor\n";

static const char *const verb_names[COMMAND_VERB_COUNT] = {
	[COMMAND_ASSIGN] = "assign",   [COMMAND_PICKUP] = "pickup",
	[COMMAND_RELEASE] = "release", [COMMAND_PRIORITY] = "priority",
	[COMMAND_STATUS] = "status",   [COMMAND_STICKY] = "sticky",
	[COMMAND_QUEUE] = "queue",     [COMMAND_CLOSE] = "close",
	[COMMAND_REOPEN] = "reopen",   [COMMAND_NOTE] = "note",
	[COMMAND_CC] = "cc",           [COMMAND_TAG] = "tag",
	[COMMAND_LINK] = "link",       [COMMAND_REQUESTOR] = "requestor",
};

const char *commands_verb_name(enum command_verb verb)
{
	if ((unsigned)verb >= COMMAND_VERB_COUNT)
		return "?";
	return verb_names[verb];
}

/* ---- lines ------------------------------------------------------------ */

/* The end of the line at p: its '\n' or the terminating NUL. */
static const char *line_end(const char *p)
{
	const char *nl = strchr(p, '\n');

	return nl != NULL ? nl : p + strlen(p);
}

/* The length of the line's content: without the LF and a CR before it. */
static size_t line_len(const char *p, const char *end)
{
	if (end > p && end[-1] == '\r')
		end--;
	return (size_t)(end - p);
}

/* The start of the line before the one starting at start (start > text). */
static const char *prev_line(const char *text, const char *start)
{
	const char *p = start - 1; /* the previous line's '\n' */

	while (p > text && p[-1] != '\n')
		p--;
	return p;
}

static bool is_hspace(char c)
{
	return c == ' ' || c == '\t';
}

static bool line_blank(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_hspace(p[i]))
			return false;
	return true;
}

/* Quoted text: '>' after optional indentation. */
static bool line_quoted(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len && is_hspace(p[i]))
		i++;
	return i < len && p[i] == '>';
}

static bool is_separator(const char *p, size_t len)
{
	size_t i = 0, mark = strlen(COMMANDS_SEPARATOR_MARK);

	/* "> > -- Write ...", "  -- Write ...": quoting and indentation. */
	while (i < len && (p[i] == '>' || is_hspace(p[i])))
		i++;
	return len - i >= mark && g_ascii_strncasecmp(p + i, COMMANDS_SEPARATOR_MARK, mark) == 0;
}

static bool ends_with_ci(const char *p, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && g_ascii_strncasecmp(p + len - n, suffix, n) == 0;
}

/* "On ... wrote:", "Am ... schrieb ...:", "Le ... a écrit :" (with a space,
 * a no-break space or a narrow no-break space before the colon, as French
 * typography and the clients that follow it write it). */
static bool is_attribution(const char *p, size_t len)
{
	while (len > 0 && is_hspace(p[len - 1]))
		len--;
	if (ends_with_ci(p, len, "wrote:") || ends_with_ci(p, len, "schrieb:"))
		return true;
	if (len == 0 || p[len - 1] != ':')
		return false;
	/* German clients put the writer after the verb: "Am 23.11.2026 um
	 * 10:00 schrieb Support <support@example.com>:". */
	if (len > 3 && strncmp(p, "Am ", 3) == 0 &&
	    g_strstr_len(p, (gssize)len, " schrieb ") != NULL)
		return true;
	len--;
	for (;;) {
		if (len > 0 && p[len - 1] == ' ')
			len--;
		else if (ends_with_ci(p, len, "\xc2\xa0"))
			len -= 2;
		else if (ends_with_ci(p, len, "\xe2\x80\xaf"))
			len -= 3;
		else
			break;
	}
	return ends_with_ci(p, len, "a \xc3\xa9\x63rit");
}

/* The first half of an attribution that the client wrapped ("On Mon, 23
 * Nov 2026 at 10:00, Support <" / "support@example.com> wrote:"). */
static bool is_attribution_start(const char *p, size_t len)
{
	static const char *const starts[] = { "On ", "Am ", "Le " };

	for (size_t i = 0; i < G_N_ELEMENTS(starts); i++)
		if (len > 3 && strncmp(p, starts[i], 3) == 0)
			return true;
	return false;
}

char *commands_text_above_separator(const char *body)
{
	const char *p = body, *sep = NULL, *cut, *q;

	for (; *p != '\0'; p++) {
		const char *end = line_end(p);

		if (is_separator(p, line_len(p, end))) {
			sep = p;
			break;
		}
		if (*end == '\0')
			break;
		p = end;
	}
	if (sep == NULL)
		return g_strdup(body);

	/* An attribution right above the separator, or above the quoted
	 * lines (and blank lines) that lead to it, goes with it.  Quoted
	 * lines with no attribution above them stay: they may be the
	 * writer's own inline quotes. */
	cut = sep;
	q = sep;
	while (q > body) {
		const char *prev = prev_line(body, q);
		size_t len = line_len(prev, q - 1);

		if (!line_blank(prev, len) && !line_quoted(prev, len))
			break;
		q = prev;
	}
	if (q > body) {
		const char *attr = prev_line(body, q);
		size_t len = line_len(attr, q - 1);

		if (is_attribution(attr, len)) {
			cut = attr;
			if (!is_attribution_start(attr, len) && attr > body) {
				const char *first = prev_line(body, attr);
				size_t flen = line_len(first, attr - 1);

				if (is_attribution_start(first, flen))
					cut = first;
			}
		}
	}
	while (cut > body) {
		const char *prev = prev_line(body, cut);

		if (!line_blank(prev, line_len(prev, cut - 1)))
			break;
		cut = prev;
	}
	return g_strndup(body, (gsize)(cut - body));
}

/* ---- parsing ---------------------------------------------------------- */

static bool word_ok(const char *s, const char *extra)
{
	size_t len = strlen(s);

	if (len == 0 || len > COMMANDS_WORD_MAX)
		return false;
	for (const char *c = s; *c != '\0'; c++)
		if (!g_ascii_isalnum(*c) && strchr(extra, *c) == NULL)
			return false;
	return true;
}

static void ascii_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = g_ascii_tolower(*s);
}

/* Digits only, at most COMMANDS_NUMBER_DIGITS of them; -1 otherwise. */
static long parse_number(const char *s)
{
	long n = 0;
	size_t digits = 0;

	for (; *s != '\0'; s++) {
		if (!g_ascii_isdigit(*s) || ++digits > COMMANDS_NUMBER_DIGITS)
			return -1;
		n = n * 10 + (*s - '0');
	}
	return digits > 0 ? n : -1;
}

/* Which verbs take an argument, and what it is called when it is missing. */
static const char *const arg_names[COMMAND_VERB_COUNT] = {
	[COMMAND_ASSIGN] = "a login",       [COMMAND_PRIORITY] = "a priority from 1 to 99",
	[COMMAND_STATUS] = "a status",      [COMMAND_STICKY] = "on or off",
	[COMMAND_QUEUE] = "a queue name",   [COMMAND_CC] = "an address",
	[COMMAND_TAG] = "a word",           [COMMAND_LINK] = "a ticket number",
	[COMMAND_REQUESTOR] = "an address",
};

static int lookup_verb(const char *word, enum command_verb *verb_r)
{
	for (int i = 0; i < COMMAND_VERB_COUNT; i++)
		if (g_ascii_strcasecmp(word, verb_names[i]) == 0) {
			*verb_r = (enum command_verb)i;
			return 0;
		}
	return -1;
}

static void status_list(GString *out)
{
	for (int i = 0; i < TICKET_STATUS_COUNT; i++)
		g_string_append_printf(out, "%s%s", i > 0 ? ", " : "",
				       ticket_status_name((enum ticket_status)i));
}

/* Checks and converts cmd->arg for cmd->verb.  0, or -1 with what is wrong
 * with it (no line, no command: the caller adds those). */
static int check_arg(struct command *cmd, char **why_r)
{
	char *arg = cmd->arg, *err = NULL;

	switch (cmd->verb) {
	case COMMAND_PICKUP:
	case COMMAND_RELEASE:
	case COMMAND_CLOSE:
	case COMMAND_REOPEN:
	case COMMAND_NOTE:
		break;
	case COMMAND_ASSIGN:
		/* Logins are lower-case in the config (a-z0-9._-). */
		ascii_lower(arg);
		if (!word_ok(arg, "._-")) {
			*why_r = g_strdup("not a login");
			return -1;
		}
		break;
	case COMMAND_QUEUE:
		ascii_lower(arg);
		if (!word_ok(arg, "_-")) {
			*why_r = g_strdup("not a queue name");
			return -1;
		}
		break;
	case COMMAND_PRIORITY:
		cmd->number = parse_number(arg);
		if (cmd->number < 1 || cmd->number > 99) {
			cmd->number = 0;
			*why_r = g_strdup("not a priority from 1 to 99");
			return -1;
		}
		break;
	case COMMAND_LINK:
		cmd->number = parse_number(arg);
		if (cmd->number < 1) {
			cmd->number = 0;
			*why_r = g_strdup("not a ticket number");
			return -1;
		}
		break;
	case COMMAND_STATUS: {
		char *down = g_ascii_strdown(arg, -1);
		int r = ticket_status_parse(down, &cmd->status);

		g_free(down);
		if (r < 0) {
			GString *why = g_string_new("not a status (");

			status_list(why);
			g_string_append_c(why, ')');
			*why_r = g_string_free(why, FALSE);
			return -1;
		}
		break;
	}
	case COMMAND_STICKY:
		if (g_ascii_strcasecmp(arg, "on") == 0)
			cmd->on = true;
		else if (g_ascii_strcasecmp(arg, "off") != 0) {
			*why_r = g_strdup("say on or off");
			return -1;
		}
		break;
	case COMMAND_TAG:
		if (!word_ok(arg, "-_.")) {
			*why_r = g_strdup_printf(
				"not a tag (letters, digits, '-', '_', '.', at most "
				"%d octets)",
				COMMANDS_WORD_MAX);
			return -1;
		}
		break;
	case COMMAND_CC:
	case COMMAND_REQUESTOR: {
		size_t len = strlen(arg);
		char *addr;

		/* "<a@example.com>" is how people copy an address. */
		if (len >= 2 && arg[0] == '<' && arg[len - 1] == '>')
			addr = g_strndup(arg + 1, len - 2);
		else
			addr = g_strdup(arg);
		if (address_check(addr, &err) < 0) {
			*why_r = err;
			g_free(addr);
			return -1;
		}
		g_free(cmd->arg);
		cmd->arg = address_normalise(addr);
		g_free(addr);
		break;
	}
	case COMMAND_VERB_COUNT:
		log_panic("check_arg: verb %d", (int)cmd->verb);
	}
	return 0;
}

/* The command on the line [p, p + len), which starts with '#' and a
 * letter.  0 with *cmd filled, or -1 with the reason in *error_r. */
static int parse_command(const char *p, size_t len, unsigned lineno, struct command *cmd,
			 char **error_r)
{
	size_t v = 1, a, e;
	char *word, *shown, *why = NULL;
	enum command_verb verb;

	while (v < len && !is_hspace(p[v]))
		v++;
	word = g_strndup(p + 1, v - 1);
	if (lookup_verb(word, &verb) < 0) {
		shown = log_sanitize(word, 80);
		error_set(error_r, "line %u: #%s: unknown command", lineno, shown);
		g_free(shown);
		g_free(word);
		return -1;
	}
	g_free(word);

	a = v;
	while (a < len && is_hspace(p[a]))
		a++;
	e = len;
	while (e > a && is_hspace(p[e - 1]))
		e--;
	memset(cmd, 0, sizeof(*cmd));
	cmd->verb = verb;
	cmd->line = lineno;

	if (arg_names[verb] == NULL) {
		if (e > a) {
			error_set(error_r, "line %u: #%s: takes no argument", lineno,
				  verb_names[verb]);
			return -1;
		}
		return 0;
	}
	if (e == a) {
		error_set(error_r, "line %u: #%s: needs %s", lineno, verb_names[verb],
			  arg_names[verb]);
		return -1;
	}
	cmd->arg = g_strndup(p + a, e - a);
	if (strpbrk(cmd->arg, " \t") != NULL)
		why = g_strdup_printf("takes one argument, %s", arg_names[verb]);
	else
		check_arg(cmd, &why);
	if (why != NULL) {
		shown = log_sanitize(cmd->arg, 80);
		error_set(error_r, "line %u: #%s %s: %s", lineno, verb_names[verb], shown, why);
		g_free(shown);
		g_free(why);
		g_free(cmd->arg);
		cmd->arg = NULL;
		return -1;
	}
	return 0;
}

int commands_parse(const char *text, struct commands **cmds_r, char **error_r)
{
	struct commands *cmds = g_new0(struct commands, 1);
	GArray *items = g_array_new(FALSE, TRUE, sizeof(struct command));
	const char *p = text;
	unsigned lineno = 1;
	int ret = -1;

	*cmds_r = NULL;
	for (; *p != '\0'; lineno++) {
		const char *end = line_end(p);
		size_t len = line_len(p, end);
		struct command cmd;

		if (!line_blank(p, len)) {
			if (p[0] != '#' || !g_ascii_isalpha(p[1]))
				break; /* the text begins */
			if (len > COMMANDS_LINE_MAX) {
				error_set(error_r, "line %u: longer than %d octets", lineno,
					  COMMANDS_LINE_MAX);
				goto out;
			}
			if (items->len == COMMANDS_MAX) {
				error_set(error_r, "line %u: more than %d commands", lineno,
					  COMMANDS_MAX);
				goto out;
			}
			if (parse_command(p, len, lineno, &cmd, error_r) < 0)
				goto out;
			if (cmd.verb == COMMAND_NOTE)
				cmds->note = true;
			g_array_append_val(items, cmd);
		}
		p = *end == '\0' ? end : end + 1;
	}
	cmds->text = g_strdup(p);
	cmds->count = items->len;
	cmds->items = (struct command *)(void *)g_array_free(items, FALSE);
	items = NULL;
	*cmds_r = cmds;
	cmds = NULL;
	ret = 0;
out:
	if (items != NULL) {
		for (guint i = 0; i < items->len; i++)
			g_free(g_array_index(items, struct command, i).arg);
		g_array_free(items, TRUE);
	}
	commands_free(&cmds);
	return ret;
}

void commands_free(struct commands **cmds)
{
	if (*cmds == NULL)
		return;
	for (size_t i = 0; i < (*cmds)->count; i++)
		g_free((*cmds)->items[i].arg);
	g_free((*cmds)->items);
	g_free((*cmds)->text);
	g_free(*cmds);
	*cmds = NULL;
}

/* ---- permission ------------------------------------------------------- */

static bool in_list(char *const *list, const char *name)
{
	for (size_t i = 0; list != NULL && list[i] != NULL; i++)
		if (strcmp(list[i], name) == 0)
			return true;
	return false;
}

/* Entitled to a queue: one of the member's queues; an admin also sees the
 * default queue (DESIGN §1). */
static bool entitled(const struct config_staff *st, const char *queue,
		     const struct ticketd_config *cfg)
{
	if (queue == NULL)
		return false;
	if (in_list(st->queues, queue))
		return true;
	return st->role == STAFF_ROLE_ADMIN && cfg->default_queue != NULL &&
	       cfg->default_queue->name != NULL && strcmp(cfg->default_queue->name, queue) == 0;
}

static bool owns(const struct config_staff *st, const char *assignee)
{
	return assignee != NULL && strcmp(assignee, st->login) == 0;
}

static bool may_act(const struct config_staff *st, const char *queue, const char *assignee,
		    const struct ticketd_config *cfg)
{
	if (owns(st, assignee))
		return true;
	return st->role == STAFF_ROLE_ADMIN && entitled(st, queue, cfg);
}

bool commands_may_act(const struct command_actor *who, const struct command_ticket *ticket,
		      const struct ticketd_config *cfg)
{
	return who->staff != NULL && may_act(who->staff, ticket->queue, ticket->assignee, cfg);
}

static char *refuse(const struct command *cmd, const char *why)
{
	if (cmd->arg != NULL)
		return g_strdup_printf("line %u: #%s %s: %s", cmd->line, verb_names[cmd->verb],
				       cmd->arg, why);
	return g_strdup_printf("line %u: #%s: %s", cmd->line, verb_names[cmd->verb], why);
}

/* Why st may not give cmd on a ticket in queue with assignee (NULL: it
 * may), and the ticket as cmd leaves it in *queue and *assignee. */
static char *permit_one(const struct command *cmd, const struct config_staff *st,
			const char **queue, const char **assignee, const struct ticketd_config *cfg)
{
	bool admin = st->role == STAFF_ROLE_ADMIN;
	const struct config_staff *target;
	const struct config_queue *q;

	if (cmd->verb == COMMAND_ASSIGN && !admin)
		return g_strdup("a support member cannot assign tickets");
	if (cmd->verb == COMMAND_PICKUP && !admin && !owns(st, *assignee)) {
		if (*assignee != NULL)
			return g_strdup_printf("the ticket is assigned to %s; a support member "
					       "cannot take tickets of others",
					       *assignee);
		if (!entitled(st, *queue, cfg))
			return g_strdup_printf("you are not entitled to queue %s",
					       *queue != NULL ? *queue : "(none)");
		*assignee = st->login;
		return NULL;
	}
	if (!may_act(st, *queue, *assignee, cfg)) {
		if (!admin)
			return g_strdup(*assignee != NULL ? "the ticket is assigned to someone else"
							  : "the ticket is not assigned to you");
		return g_strdup_printf("the ticket is in queue %s, which is not yours, and not "
				       "assigned to you",
				       *queue != NULL ? *queue : "(none)");
	}
	switch (cmd->verb) {
	case COMMAND_ASSIGN:
		target = config_staff_by_login(cfg, cmd->arg, NULL);
		if (target == NULL)
			return g_strdup_printf("no staff member %s", cmd->arg);
		if (!entitled(target, *queue, cfg))
			return g_strdup_printf("%s is not entitled to queue %s", cmd->arg,
					       *queue != NULL ? *queue : "(none)");
		*assignee = target->login;
		break;
	case COMMAND_PICKUP:
		*assignee = st->login;
		break;
	case COMMAND_RELEASE:
		*assignee = NULL;
		break;
	case COMMAND_QUEUE:
		q = config_queue_by_name(cfg, cmd->arg);
		if (q == NULL)
			return g_strdup_printf("no queue %s", cmd->arg);
		if (!entitled(st, q->name, cfg))
			return g_strdup_printf("you are not entitled to queue %s", q->name);
		*queue = q->name;
		break;
	default:
		break;
	}
	return NULL;
}

int commands_permit(const struct commands *cmds, const struct command_actor *who,
		    const struct command_ticket *ticket, const struct ticketd_config *cfg,
		    char **reason_r)
{
	const char *queue = ticket->queue, *assignee = ticket->assignee;

	if (cmds->count > 0 && who->staff == NULL) {
		error_set(reason_r, "not a staff member");
		return -1;
	}
	for (size_t i = 0; i < cmds->count; i++) {
		char *why = permit_one(&cmds->items[i], who->staff, &queue, &assignee, cfg);

		if (why != NULL) {
			if (reason_r != NULL)
				*reason_r = refuse(&cmds->items[i], why);
			g_free(why);
			return -1;
		}
	}
	return 0;
}

int commands_permit_without_ticket(const struct commands *cmds, char **reason_r)
{
	for (size_t i = 0; i < cmds->count; i++) {
		const struct command *cmd = &cmds->items[i];

		if (cmd->verb != COMMAND_REQUESTOR) {
			char *why =
				g_strdup_printf("no ticket to apply #%s to", verb_names[cmd->verb]);

			if (reason_r != NULL)
				*reason_r = refuse(cmd, why);
			g_free(why);
			return -1;
		}
	}
	return 0;
}
