/*
 * test-commands.c - lib/commands.c: the text above the reply separator, the
 * command block at the top of a staff mail, and the role rules for it.
 */
#include "commands.h"
#include "tap.h"

#include <glib.h>
#include <string.h>

#define SEP COMMANDS_SEPARATOR "\n"

static void above(const char *body, const char *want, const char *name)
{
	char *got = commands_text_above_separator(body);

	is_str(got, want, name);
	g_free(got);
}

static void test_separator(void)
{
	above("Thanks, fixed.\n\n" SEP "Ticket 5 ...\n", "Thanks, fixed.\n", "plain separator");
	above("Thanks, fixed.\n\n> " SEP "> Ticket 5 ...\n", "Thanks, fixed.\n",
	      "quoted separator");
	above("Done.\n> > \t" COMMANDS_SEPARATOR_MARK "\n> > (commands\n", "Done.\n",
	      "nested quote, indented, tail wrapped away");
	above("Done.\n" COMMANDS_SEPARATOR_MARK " and more\n", "Done.\n", "mark only");
	above("Done.\n\n-- write YOUR reply above this line --\n", "Done.\n", "case of the mark");
	above("Thanks.\n\nOn Mon, 23 Nov 2026, Support wrote:\n> " SEP "> text\n", "Thanks.\n",
	      "English attribution");
	above("Danke.\n\nAm Mo., 23. Nov. 2026 um 10:00 schrieb Support <s@example.com>:\n"
	      "> " SEP,
	      "Danke.\n", "German attribution, writer after the verb");
	above("Am Ende schrieb er das:\nDanke.\n> " SEP, "Am Ende schrieb er das:\nDanke.\n",
	      "an attribution-like line away from the separator stays");
	above("Danke.\n\nAm 23.11.2026 schrieb:\n> " SEP, "Danke.\n", "German attribution");
	above("Merci.\n\nLe lun. 23 nov. 2026, Support a \xc3\xa9\x63rit :\n> " SEP, "Merci.\n",
	      "French attribution");
	above("Merci.\n\nLe 23 nov., Support a \xc3\xa9\x63rit\xc2\xa0:\n> " SEP, "Merci.\n",
	      "French attribution with a no-break space");
	above("Merci.\nLe 23 nov., Support a \xc3\xa9\x63rit:\n" SEP, "Merci.\n",
	      "French attribution without space, separator unquoted");
	above("Yes.\n\nOn Mon, 23 Nov 2026 at 10:00, Support <\nsupport@example.com> wrote:\n"
	      "> " SEP,
	      "Yes.\n", "attribution wrapped over two lines");
	above("Yes.\nOn Monday I call him.\nSupport wrote:\n> " SEP, "Yes.\n",
	      "a wrapped attribution takes the line starting with 'On ' too");
	above("Yes.\nI call him.\nSupport wrote:\n> " SEP, "Yes.\nI call him.\n",
	      "a one-line attribution takes only itself");
	above("Reply.\n\nOn Mon, Support wrote:\n> Ticket [Ticket#5] new\n>\n> " SEP "> x\n",
	      "Reply.\n", "attribution above a quoted block leading to the separator");
	above("> what the customer said\nmy answer\n> " SEP,
	      "> what the customer said\nmy answer\n",
	      "no attribution: quoted lines of the writer stay");
	above("> customer line\n\n> " SEP, "> customer line\n",
	      "quoted lines without attribution stay, blank lines go");
	above("Reply.\r\n\r\nOn Mon, Support wrote:\r\n> " COMMANDS_SEPARATOR "\r\n> x\r\n",
	      "Reply.\r\n", "CRLF line ends");
	above(SEP "text below\n", "", "separator on the first line");
	above("On Mon, Support wrote:\n> " SEP, "", "only an attribution");
	above("No separator here.\n\n", "No separator here.\n\n", "no separator: whole body");
	above("", "", "empty body");
	above("Reply\nwrote: -- Write your reply\n", "Reply\nwrote: -- Write your reply\n",
	      "the mark must start the line");
	above("Reply.\n" COMMANDS_SEPARATOR_MARK, "Reply.\n", "separator without a line end");
	above("Reply.\n\n\n  \t\n" SEP, "Reply.\n", "trailing blank lines go");
}

static struct commands *parse_ok(const char *text, const char *name)
{
	struct commands *cmds = NULL;
	char *error = NULL;
	int r = commands_parse(text, &cmds, &error);

	if (!ok(r == 0 && cmds != NULL && error == NULL, name))
		printf("#   error: %s\n", error != NULL ? error : "(none)");
	g_free(error);
	return cmds;
}

static void parse_bad(const char *text, const char *want, const char *name)
{
	struct commands *cmds = (struct commands *)1;
	char *error = NULL;
	int r = commands_parse(text, &cmds, &error);

	is_int(r, -1, name);
	ok(cmds == NULL, "  and gives no commands");
	is_str(error, want, "  with the reason");
	g_free(error);
	commands_free(&cmds);
}

/* One command alone: verb, arg, number, text. */
static void one(const char *text, enum command_verb verb, const char *arg, long number,
		const char *name)
{
	struct commands *cmds = parse_ok(text, name);

	if (cmds == NULL)
		return;
	is_int(cmds->count, 1, "  one command");
	if (cmds->count == 1) {
		is_int(cmds->items[0].verb, verb, "  verb");
		is_str(cmds->items[0].arg, arg, "  argument");
		is_int(cmds->items[0].number, number, "  number");
		is_int(cmds->items[0].line, 1, "  line");
	}
	is_str(cmds->text, "", "  no text left");
	commands_free(&cmds);
	ok(cmds == NULL, "  commands_free clears the pointer");
}

static void test_verbs(void)
{
	struct commands *cmds;

	one("#assign bob", COMMAND_ASSIGN, "bob", 0, "#assign");
	one("#ASSIGN Bob.Smith_2-x\n", COMMAND_ASSIGN, "bob.smith_2-x", 0,
	    "#ASSIGN, login lower-cased");
	one("#pickup\n", COMMAND_PICKUP, NULL, 0, "#pickup");
	one("#Release \t\n", COMMAND_RELEASE, NULL, 0, "#Release with trailing blanks");
	one("#priority 1\n", COMMAND_PRIORITY, "1", 1, "#priority 1");
	one("#priority 99\n", COMMAND_PRIORITY, "99", 99, "#priority 99");
	one("#priority 007\n", COMMAND_PRIORITY, "007", 7, "#priority 007");
	one("#queue Billing\n", COMMAND_QUEUE, "billing", 0, "#queue, lower-cased");
	one("#close\n", COMMAND_CLOSE, NULL, 0, "#close");
	one("#reopen\n", COMMAND_REOPEN, NULL, 0, "#reopen");
	one("#cc Jane@Example.COM\n", COMMAND_CC, "Jane@example.com", 0, "#cc, stored spelling");
	one("#cc <jane@example.com>\n", COMMAND_CC, "jane@example.com", 0, "#cc in brackets");
	one("#requestor kunde@b\xc3\xbc\x63her.example\n", COMMAND_REQUESTOR,
	    "kunde@b\xc3\xbc\x63her.example", 0, "#requestor, UTF-8 domain");
	one("#tag Printer-2.x_y\n", COMMAND_TAG, "Printer-2.x_y", 0, "#tag");
	one("#tag 1234567890123456789012345678901234567890123456789012345678901234\n", COMMAND_TAG,
	    "1234567890123456789012345678901234567890123456789012345678901234", 0,
	    "#tag of 64 octets");
	one("#link 42\n", COMMAND_LINK, "42", 42, "#link");
	one("#link 999999999999999999\n", COMMAND_LINK, "999999999999999999", 999999999999999999L,
	    "#link of 18 digits");

	cmds = parse_ok("#status On-Hold\n", "#status On-Hold");
	if (cmds != NULL && cmds->count == 1) {
		is_int(cmds->items[0].status, TICKET_ON_HOLD, "  status on-hold");
		is_str(cmds->items[0].arg, "On-Hold", "  as written");
	}
	commands_free(&cmds);
	for (int s = 0; s < TICKET_STATUS_COUNT; s++) {
		char *text = g_strdup_printf("#status %s", ticket_status_name(s));

		cmds = parse_ok(text, text);
		if (cmds != NULL && cmds->count == 1)
			is_int(cmds->items[0].status, s, "  that status");
		commands_free(&cmds);
		g_free(text);
	}
	cmds = parse_ok("#sticky ON\n#sticky off\n", "#sticky ON, #sticky off");
	if (cmds != NULL && cmds->count == 2) {
		ok(cmds->items[0].on, "  on");
		ok(!cmds->items[1].on, "  off");
		is_int(cmds->items[1].line, 2, "  line 2");
	}
	commands_free(&cmds);
	cmds = parse_ok("#note\nCalled the customer.\n", "#note");
	if (cmds != NULL) {
		ok(cmds->note, "  note is set");
		is_int(cmds->count, 1, "  and listed");
		is_str(cmds->text, "Called the customer.\n", "  the note's text");
	}
	commands_free(&cmds);
	cmds = parse_ok("#close\n", "no #note");
	if (cmds != NULL)
		ok(!cmds->note, "  note is not set");
	commands_free(&cmds);

	parse_bad("#assign\n", "line 1: #assign: needs a login", "#assign without login");
	parse_bad("#assign \t \r\n", "line 1: #assign: needs a login",
		  "#assign with trailing spaces, tab, CR");
	parse_bad("#assign bob smith\n", "line 1: #assign bob smith: takes one argument, a login",
		  "#assign with two words");
	parse_bad("#assign b/ob\n", "line 1: #assign b/ob: not a login", "#assign bad login");
	parse_bad("#pickup bob\n", "line 1: #pickup: takes no argument", "#pickup with argument");
	parse_bad("#close now\n", "line 1: #close: takes no argument", "#close with argument");
	parse_bad("#note x\n", "line 1: #note: takes no argument", "#note with argument");
	parse_bad("#release me\n", "line 1: #release: takes no argument", "#release with argument");
	parse_bad("#reopen x\n", "line 1: #reopen: takes no argument", "#reopen with argument");
	parse_bad("#close\n#priority 0\n", "line 2: #priority 0: not a priority from 1 to 99",
		  "#priority 0");
	parse_bad("#priority 100", "line 1: #priority 100: not a priority from 1 to 99",
		  "#priority 100");
	parse_bad("#priority -5", "line 1: #priority -5: not a priority from 1 to 99",
		  "#priority -5");
	parse_bad("#priority high", "line 1: #priority high: not a priority from 1 to 99",
		  "#priority high");
	parse_bad("#priority 99999999999999999999999",
		  "line 1: #priority 99999999999999999999999: not a priority from 1 to 99",
		  "#priority overflow");
	parse_bad("#priority", "line 1: #priority: needs a priority from 1 to 99",
		  "#priority without number");
	parse_bad("#status done",
		  "line 1: #status done: not a status (new, assigned, answered, on-hold, "
		  "reopened, resolved, closed)",
		  "#status done");
	parse_bad("#status", "line 1: #status: needs a status", "#status without status");
	parse_bad("#sticky yes", "line 1: #sticky yes: say on or off", "#sticky yes");
	parse_bad("#sticky", "line 1: #sticky: needs on or off", "#sticky alone");
	parse_bad("#queue sup.port", "line 1: #queue sup.port: not a queue name",
		  "#queue bad name");
	parse_bad("#queue", "line 1: #queue: needs a queue name", "#queue alone");
	parse_bad("#cc", "line 1: #cc: needs an address", "#cc alone");
	parse_bad("#cc jane", "line 1: #cc jane: no '@'", "#cc without @");
	parse_bad("#requestor a@@b", "line 1: #requestor a@@b: more than one '@'",
		  "#requestor bad");
	parse_bad("#tag a/b",
		  "line 1: #tag a/b: not a tag (letters, digits, '-', '_', '.', at most 64 octets)",
		  "#tag with '/'");
	parse_bad("#tag 12345678901234567890123456789012345678901234567890123456789012345",
		  "line 1: #tag 12345678901234567890123456789012345678901234567890123456789012345: "
		  "not a tag (letters, digits, '-', '_', '.', at most 64 octets)",
		  "#tag of 65 octets");
	parse_bad("#link 0", "line 1: #link 0: not a ticket number", "#link 0");
	parse_bad("#link 1x", "line 1: #link 1x: not a ticket number", "#link 1x");
	parse_bad("#link 1234567890123456789",
		  "line 1: #link 1234567890123456789: not a ticket number", "#link of 19 digits");
	parse_bad("#frobnicate", "line 1: #frobnicate: unknown command", "unknown verb");
	parse_bad("\n\n#close\n#Frob x\n", "line 4: #Frob: unknown command",
		  "unknown verb as written, line counted with blank lines");
	parse_bad("#close,\n", "line 1: #close,: unknown command", "verb with punctuation");
	parse_bad("#cc\xff\x01 x\n", "line 1: #cc??: unknown command",
		  "junk in the verb is not quoted raw");
}

static void test_text(void)
{
	struct commands *cmds;

	cmds = parse_ok("Thanks for writing.\n#close\n", "no commands");
	if (cmds != NULL) {
		is_int(cmds->count, 0, "  none");
		is_str(cmds->text, "Thanks for writing.\n#close\n", "  text as it is");
		ok(!cmds->note, "  not a note");
	}
	commands_free(&cmds);

	cmds = parse_ok("\n \n#priority 70\n\n#pickup\n\n\nHello,\n\n#1 thing to check\n#close\n",
			"commands, blank lines, text with '#' lines");
	if (cmds != NULL) {
		is_int(cmds->count, 2, "  two commands");
		if (cmds->count == 2) {
			is_int(cmds->items[0].line, 3, "  line 3");
			is_int(cmds->items[1].verb, COMMAND_PICKUP, "  #pickup");
			is_int(cmds->items[1].line, 5, "  line 5");
		}
		is_str(cmds->text, "Hello,\n\n#1 thing to check\n#close\n",
		       "  commands and blank lines removed exactly");
	}
	commands_free(&cmds);

	cmds = parse_ok("#close\r\n#tag x\r\n\r\nBye.\r\n", "CRLF line ends");
	if (cmds != NULL) {
		is_int(cmds->count, 2, "  two commands");
		if (cmds->count == 2)
			is_str(cmds->items[1].arg, "x", "  no CR in the argument");
		is_str(cmds->text, "Bye.\r\n", "  text keeps its line ends");
	}
	commands_free(&cmds);

	cmds = parse_ok("#\n#close\n", "'#' alone is text");
	if (cmds != NULL) {
		is_int(cmds->count, 0, "  no commands");
		is_str(cmds->text, "#\n#close\n", "  all text");
	}
	commands_free(&cmds);

	cmds = parse_ok(" #close\n", "an indented '#' line is text");
	if (cmds != NULL) {
		is_int(cmds->count, 0, "  no commands");
		is_str(cmds->text, " #close\n", "  all text");
	}
	commands_free(&cmds);

	cmds = parse_ok("#42 is related\n", "'#' and a digit is text");
	if (cmds != NULL)
		is_int(cmds->count, 0, "  no commands");
	commands_free(&cmds);

	cmds = parse_ok("", "empty text");
	if (cmds != NULL) {
		is_int(cmds->count, 0, "  no commands");
		is_str(cmds->text, "", "  empty");
	}
	commands_free(&cmds);

	cmds = parse_ok("#close", "a command without a line end");
	if (cmds != NULL) {
		is_int(cmds->count, 1, "  one");
		is_str(cmds->text, "", "  nothing left");
	}
	commands_free(&cmds);
}

static void test_hostile(void)
{
	GString *s = g_string_new(NULL);
	struct commands *cmds;
	char *want;

	/* 32 commands are fine, the 33rd is refused. */
	for (int i = 0; i < COMMANDS_MAX; i++)
		g_string_append(s, "#tag t\n");
	cmds = parse_ok(s->str, "32 commands");
	if (cmds != NULL)
		is_int(cmds->count, 32, "  all 32");
	commands_free(&cmds);
	for (int i = COMMANDS_MAX; i < 1000; i++)
		g_string_append(s, "#tag t\n");
	parse_bad(s->str, "line 33: more than 32 commands", "1000 command lines");

	/* A command line of 998 octets is fine, 999 is too long. */
	g_string_assign(s, "#tag a");
	g_string_append(s, "        ");
	while (s->len < COMMANDS_LINE_MAX)
		g_string_append_c(s, ' ');
	g_string_append(s, "\r\n");
	cmds = parse_ok(s->str, "command line of 998 octets");
	if (cmds != NULL && cmds->count == 1)
		is_str(cmds->items[0].arg, "a", "  its argument");
	commands_free(&cmds);
	g_string_assign(s, "#tag ");
	while (s->len < COMMANDS_LINE_MAX + 1)
		g_string_append_c(s, 'x');
	want = g_strdup_printf("line 1: longer than %d octets", COMMANDS_LINE_MAX);
	parse_bad(s->str, want, "command line of 999 octets");
	g_free(want);

	/* A very long line of text is text. */
	g_string_assign(s, "#close\n");
	for (int i = 0; i < 100000; i++)
		g_string_append_c(s, 'y');
	cmds = parse_ok(s->str, "very long text line");
	if (cmds != NULL)
		is_int(strlen(cmds->text), 100000, "  kept whole");
	commands_free(&cmds);

	/* Binary junk, no NUL: either text or a clean refusal. */
	g_string_truncate(s, 0);
	for (int i = 1; i < 256; i++)
		g_string_append_c(s, (char)i);
	cmds = parse_ok(s->str, "binary junk is text");
	if (cmds != NULL) {
		is_int(cmds->count, 0, "  no commands");
		is_str(cmds->text, s->str, "  all of it");
	}
	commands_free(&cmds);
	parse_bad("#tag \x80\xfe\x01\n",
		  "line 1: #tag ???: not a tag (letters, digits, '-', '_', '.', at most 64 octets)",
		  "junk argument is quoted sanitised");
	parse_bad("#cc \x80@\xfe\n", "line 1: #cc ?@?: not valid UTF-8", "junk address");

	/* Many blank lines before the text. */
	g_string_assign(s, "#close\n");
	for (int i = 0; i < 100000; i++)
		g_string_append(s, " \t\r\n");
	g_string_append(s, "end");
	cmds = parse_ok(s->str, "100000 blank lines");
	if (cmds != NULL)
		is_str(cmds->text, "end", "  then the text");
	commands_free(&cmds);

	{
		char *t;

		g_string_truncate(s, 0);
		for (int i = 0; i < 100000; i++)
			g_string_append(s, "> > > >\n");
		g_string_append(s, "> " SEP);
		t = commands_text_above_separator(s->str);
		is_int(strlen(t), 100000 * 8, "100000 quoted lines above the separator stay");
		g_free(t);
	}
	g_string_free(s, TRUE);
}

/* ---- permission --------------------------------------------------------- */

static char *q_support_admin[] = { "support", NULL };
static char *q_billing[] = { "billing", NULL };
static char *q_support[] = { "support", NULL };
static char *q_both[] = { "support", "billing", NULL };

static struct config_staff staff[] = {
	{ .login = "alice", .role = STAFF_ROLE_ADMIN, .queues = q_support_admin },
	{ .login = "bob", .role = STAFF_ROLE_SUPPORT, .queues = q_support },
	{ .login = "carol", .role = STAFF_ROLE_SUPPORT, .queues = q_billing },
	{ .login = "dave", .role = STAFF_ROLE_ADMIN, .queues = q_billing },
	{ .login = "erin", .role = STAFF_ROLE_SUPPORT, .queues = q_both },
};
static struct config_queue queues[] = {
	{ .name = "general", .is_default = true },
	{ .name = "support" },
	{ .name = "billing" },
	{ .name = "sales" },
};
static struct ticketd_config cfg = {
	.staff = staff,
	.staff_count = G_N_ELEMENTS(staff),
	.queues = queues,
	.queue_count = G_N_ELEMENTS(queues),
	.default_queue = &queues[0],
};

#define ALICE (&staff[0])
#define BOB   (&staff[1])
#define CAROL (&staff[2])
#define DAVE  (&staff[3])

/* want NULL: permitted. */
static void permit(const struct config_staff *st, const char *queue, const char *assignee,
		   const char *text, const char *want, const char *name)
{
	struct command_actor who = { .staff = st };
	struct command_ticket ticket = { .queue = queue, .assignee = assignee };
	struct commands *cmds = NULL;
	char *error = NULL, *reason = NULL;
	int r;

	if (commands_parse(text, &cmds, &error) < 0) {
		ok(0, name);
		printf("#   parse: %s\n", error);
		g_free(error);
		return;
	}
	r = commands_permit(cmds, &who, &ticket, &cfg, &reason);
	if (want == NULL) {
		if (!ok(r == 0 && reason == NULL, name))
			printf("#   refused: %s\n", reason != NULL ? reason : "(no reason)");
	} else {
		is_int(r, -1, name);
		is_str(reason, want, "  the reason");
	}
	g_free(reason);
	commands_free(&cmds);
}

static void test_permit(void)
{
	struct command_actor who = { .staff = BOB };
	struct command_ticket ticket = { .queue = "support", .assignee = "bob" };
	struct commands *cmds = NULL;
	char *reason = NULL;
	char *err = NULL;

	/* admin */
	permit(ALICE, "support", NULL, "#assign bob\n#priority 80\n#close\n", NULL,
	       "admin assigns in its queue");
	permit(ALICE, "support", "bob", "#assign erin\n", NULL, "admin reassigns in its queue");
	permit(ALICE, "general", NULL, "#pickup\n#status on-hold\n", NULL,
	       "admin acts on the default queue");
	permit(ALICE, "billing", NULL, "#close\n",
	       "line 1: #close: the ticket is in queue billing, which is not yours, and not "
	       "assigned to you",
	       "admin not entitled to the queue");
	permit(ALICE, "billing", "alice", "#close\n#tag x\n", NULL,
	       "admin acts on its own ticket in another queue");
	permit(ALICE, "billing", "bob", "#pickup\n",
	       "line 1: #pickup: the ticket is in queue billing, which is not yours, and not "
	       "assigned to you",
	       "admin may not pick up in a queue not its own");
	permit(ALICE, "support", NULL, "#assign zed\n", "line 1: #assign zed: no staff member zed",
	       "assign to an unknown login");
	permit(ALICE, "support", NULL, "#assign carol\n",
	       "line 1: #assign carol: carol is not entitled to queue support",
	       "assign to a login not entitled to the queue");
	permit(ALICE, "general", NULL, "#assign bob\n",
	       "line 1: #assign bob: bob is not entitled to queue general",
	       "the default queue does not entitle a support member");
	permit(ALICE, "general", NULL, "#assign dave\n", NULL,
	       "the default queue entitles an admin");
	permit(ALICE, "support", NULL, "#queue general\n", NULL,
	       "admin moves to the default queue");
	permit(ALICE, "support", NULL, "#queue nowhere\n",
	       "line 1: #queue nowhere: no queue nowhere", "move to an unknown queue");
	permit(ALICE, "support", NULL, "#queue billing\n",
	       "line 1: #queue billing: you are not entitled to queue billing",
	       "admin moves to a queue not its own");
	permit(DAVE, "billing", NULL, "#queue support\n",
	       "line 1: #queue support: you are not entitled to queue support",
	       "other admin, other queue");
	permit(ALICE, "general", NULL, "#queue support\n#assign bob\n", NULL,
	       "#assign is checked against the queue after #queue");
	permit(ALICE, "support", NULL, "#queue general\n#assign bob\n",
	       "line 2: #assign bob: bob is not entitled to queue general",
	       "  and refused there when the assignee is not entitled");
	permit(ALICE, "billing", "alice", "#release\n#close\n",
	       "line 2: #close: the ticket is in queue billing, which is not yours, and not "
	       "assigned to you",
	       "after #release an admin has no hold on another queue's ticket");
	permit(ALICE, "support", "bob",
	       "#release\n#cc a@example.com\n#link 3\n#requestor "
	       "c@example.com\n#note\n#sticky on\n#reopen\n",
	       NULL, "admin does everything else");

	/* support */
	permit(BOB, "support", "bob",
	       "#priority 3\n#status answered\n#close\n#reopen\n#sticky off\n#note\n"
	       "#cc a@example.com\n#tag x\n#link 9\n#requestor r@example.com\n",
	       NULL, "support acts on its own ticket");
	permit(BOB, "support", "bob", "#assign bob\n",
	       "line 1: #assign bob: a support member cannot assign tickets",
	       "support cannot assign, not even to itself");
	permit(BOB, "support", NULL, "#assign alice\n",
	       "line 1: #assign alice: a support member cannot assign tickets",
	       "support cannot assign an unassigned ticket");
	permit(BOB, "support", NULL, "#pickup\n#priority 60\n", NULL,
	       "support picks up an unassigned ticket of its queue, then acts on it");
	permit(BOB, "support", "bob", "#pickup\n", NULL, "support picks up its own ticket");
	permit(BOB, "support", "alice", "#pickup\n",
	       "line 1: #pickup: the ticket is assigned to alice; a support member cannot take "
	       "tickets of others",
	       "support cannot pick up another's ticket");
	permit(BOB, "billing", NULL, "#pickup\n",
	       "line 1: #pickup: you are not entitled to queue billing",
	       "support cannot pick up outside its queues");
	permit(BOB, "general", NULL, "#pickup\n",
	       "line 1: #pickup: you are not entitled to queue general",
	       "support is not entitled to the default queue");
	permit(BOB, "support", NULL, "#priority 60\n",
	       "line 1: #priority 60: the ticket is not assigned to you",
	       "support cannot act on an unassigned ticket");
	permit(BOB, "support", "alice", "#note\n",
	       "line 1: #note: the ticket is assigned to someone else",
	       "support cannot act on another's ticket");
	permit(BOB, "support", "bob", "#release\n", NULL, "support releases its own ticket");
	permit(BOB, "support", "alice", "#release\n",
	       "line 1: #release: the ticket is assigned to someone else",
	       "support cannot release another's ticket");
	permit(BOB, "support", "bob", "#release\n#close\n",
	       "line 2: #close: the ticket is not assigned to you",
	       "after #release the ticket is no longer the support member's");
	permit(CAROL, "billing", "carol", "#queue support\n",
	       "line 1: #queue support: you are not entitled to queue support",
	       "support cannot move to a queue not its own");
	permit(&staff[4], "billing", "erin", "#queue support\n#close\n", NULL,
	       "support moves its own ticket between its queues");
	permit(BOB, "support", "alice", "#queue support\n",
	       "line 1: #queue support: the ticket is assigned to someone else",
	       "support cannot move another's ticket");

	/* no commands at all */
	permit(BOB, "billing", "alice", "Just text.\n", NULL,
	       "no commands: nothing to refuse here");

	/* commands_may_act */
	ok(commands_may_act(&who, &ticket, &cfg), "may_act: support, own ticket");
	ticket.assignee = NULL;
	ok(!commands_may_act(&who, &ticket, &cfg), "may_act: support, unassigned");
	who.staff = ALICE;
	ok(commands_may_act(&who, &ticket, &cfg), "may_act: admin, its queue");
	ticket.queue = "general";
	ok(commands_may_act(&who, &ticket, &cfg), "may_act: admin, default queue");
	ticket.queue = "sales";
	ok(!commands_may_act(&who, &ticket, &cfg), "may_act: admin, other queue");
	ticket.assignee = "alice";
	ok(commands_may_act(&who, &ticket, &cfg), "may_act: admin, own ticket in another queue");

	/* without a ticket */
	if (commands_parse("#requestor jane@example.com\n\nForwarded.\n", &cmds, &err) == 0) {
		is_int(commands_permit_without_ticket(cmds, &reason), 0,
		       "#requestor without a ticket");
		ok(reason == NULL, "  no reason");
	} else {
		ok(0, "#requestor parses");
	}
	commands_free(&cmds);
	if (commands_parse("#requestor jane@example.com\n#close\n", &cmds, &err) == 0) {
		is_int(commands_permit_without_ticket(cmds, &reason), -1,
		       "#close without a ticket");
		is_str(reason, "line 2: #close: no ticket to apply #close to", "  the reason");
		g_free(reason);
		reason = NULL;
	}
	commands_free(&cmds);
	if (commands_parse("#note\n", &cmds, &err) == 0) {
		is_int(commands_permit_without_ticket(cmds, &reason), -1, "#note without a ticket");
		is_str(reason, "line 1: #note: no ticket to apply #note to", "  the reason");
		g_free(reason);
		reason = NULL;
	}
	commands_free(&cmds);
	if (commands_parse("#tag x\n", &cmds, &err) == 0) {
		is_int(commands_permit_without_ticket(cmds, &reason), -1, "#tag without a ticket");
		is_str(reason, "line 1: #tag x: no ticket to apply #tag to", "  the reason");
		g_free(reason);
	}
	commands_free(&cmds);
	g_free(err);
}

static void test_names(void)
{
	is_str(commands_verb_name(COMMAND_ASSIGN), "assign", "verb name assign");
	is_str(commands_verb_name(COMMAND_REQUESTOR), "requestor", "verb name requestor");
	is_str(commands_verb_name(COMMAND_VERB_COUNT), "?", "verb name out of range");
	/* The help names every verb, each at the start of its own line. */
	for (int v = 0; v < COMMAND_VERB_COUNT; v++) {
		char *needle = g_strdup_printf("\n#%s ", commands_verb_name(v));
		char *help = g_strconcat("\n", commands_help, NULL);

		like(help, needle, commands_verb_name(v));
		g_free(needle);
		g_free(help);
	}
	is_int(strlen(COMMANDS_SEPARATOR) <= 72, 1, "the separator fits 72 columns");
	ok(strncmp(COMMANDS_SEPARATOR, COMMANDS_SEPARATOR_MARK, strlen(COMMANDS_SEPARATOR_MARK)) ==
		   0,
	   "the separator starts with its mark");
}

int main(void)
{
	test_separator();
	test_verbs();
	test_text();
	test_hostile();
	test_permit();
	test_names();
	return tap_done();
}
