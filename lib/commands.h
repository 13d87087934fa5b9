/*
 * commands.h - what staff write in a mail to a ticket (DESIGN §3 "Commands
 * by mail", "Staff answers"): the text above the reply separator, the
 * commands at the top of it, and whether the writer may give them (DESIGN §1
 * roles).  Pure functions: no database, no config lookups beyond the
 * struct ticketd_config handed in, so every rule is unit-tested
 * (tests/test-commands.c).  Applying the commands is apply.c's.
 *
 * Syntax: commands stand one per line at the very top of the text (blank
 * lines before and between them are allowed), each "#verb [argument]" with
 * '#' in the first column, the verb in any case, the argument one word
 * separated by spaces or tabs.  The block ends at the first line that is
 * neither blank nor a command; from there on a '#' line is ordinary text
 * ("#1 thing to check").  A line in the block that starts with '#' and a
 * letter but is no known command, or a command with a missing or bad
 * argument, makes the whole mail refused: commands_parse() then gives
 * nothing but the reason.
 *
 * Memory: commands_text_above_separator() returns a new string, and
 * commands_parse() a new struct commands, both owned by the caller (g_free,
 * commands_free).  Reasons in *error_r / *reason_r are newly allocated
 * (g_free); they quote the writer's text only after log_sanitize(), since
 * they go back to the sender in a mail and into the log.
 *
 * Errors: 0 or -1 with the reason in *error_r / *reason_r, as
 * "line 2: #priority 0: not a priority from 1 to 99".
 */
#ifndef TICKETD_COMMANDS_H
#define TICKETD_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "ticket.h"

/* The reply separator every notification to staff carries.  It is
 * recognised by its distinctive start (COMMANDS_SEPARATOR_MARK), after quote
 * marks and indentation, because mail clients quote it and may wrap its
 * tail; keep the mark short enough to survive a wrap at 72 columns. */
#define COMMANDS_SEPARATOR_MARK "-- Write your reply above this line"
#define COMMANDS_SEPARATOR      COMMANDS_SEPARATOR_MARK " (commands at the top) --"

/* Hard limits on what a staff mail may carry in its command block. */
#define COMMANDS_MAX           32
#define COMMANDS_LINE_MAX      998 /* octets without the line end (RFC 5322) */
#define COMMANDS_WORD_MAX      64  /* a #tag, a login or a queue name */
#define COMMANDS_NUMBER_DIGITS 18  /* a #link number fits a long */

enum command_verb {
	COMMAND_ASSIGN, /* arg: login (lower-cased) */
	COMMAND_PICKUP,
	COMMAND_RELEASE,
	COMMAND_PRIORITY, /* number: 1..99 */
	COMMAND_STATUS,   /* status */
	COMMAND_STICKY,   /* on */
	COMMAND_QUEUE,    /* arg: queue name (lower-cased) */
	COMMAND_CLOSE,
	COMMAND_REOPEN,
	COMMAND_NOTE,      /* also sets struct commands.note */
	COMMAND_CC,        /* arg: address, stored spelling (address_normalise) */
	COMMAND_TAG,       /* arg: the word as written */
	COMMAND_LINK,      /* number: a ticket number > 0 */
	COMMAND_REQUESTOR, /* arg: address, stored spelling */
	COMMAND_VERB_COUNT
};

struct command {
	enum command_verb verb;
	char *arg;                 /* see the verb; the argument as written for #priority,
			#status, #sticky and #link; NULL when the verb takes none */
	long number;               /* #priority, #link; else 0 */
	bool on;                   /* #sticky */
	enum ticket_status status; /* #status */
	unsigned line;             /* 1-based line of the text */
};

struct commands {
	struct command *items;
	size_t count;
	/* The text without the command block and the blank lines around it:
	 * what the customer sees (or the note); "" when nothing is left. */
	char *text;
	bool note; /* #note: the whole mail is an internal note */
};

/* The staff member who wrote the mail (already authenticated). */
struct command_actor {
	const struct config_staff *staff;
};

/* The ticket the mail threads to, as it is before the mail. */
struct command_ticket {
	const char *queue;    /* queue name */
	const char *assignee; /* login, NULL: nobody */
};

/* The part of a staff mail's body that counts: everything above the reply
 * separator line, without a mail client's attribution line ("On ...
 * wrote:", "Am ... schrieb:", "Le ... a écrit :") leading to it and without
 * trailing blank lines.  Without a separator, a copy of the whole body. */
char *commands_text_above_separator(const char *body);

/* Parses the command block at the top of text (see above).  0 with a new
 * *cmds_r (count 0 when there are no commands), or -1 with *error_r set and
 * *cmds_r NULL. */
int commands_parse(const char *text, struct commands **cmds_r, char **error_r);
void commands_free(struct commands **cmds);

/* May who act on the ticket as it stands (answer it, give it commands)?
 * admin: a ticket of one of its queues, of the default queue, or assigned
 * to it; support: a ticket assigned to it. */
bool commands_may_act(const struct command_actor *who, const struct command_ticket *ticket,
		      const struct ticketd_config *cfg);

/* May who give all of cmds on ticket?  The commands are checked in order
 * against the ticket as the earlier ones leave it (after "#pickup" the
 * ticket is the writer's, after "#queue billing" an "#assign" is checked
 * against billing).  0 when every command is allowed (also when there are
 * none: whether a bare answer is allowed is commands_may_act()'s), or -1
 * with the first refusal in *reason_r: "line 1: #assign bob: a support
 * member cannot assign tickets". */
int commands_permit(const struct commands *cmds, const struct command_actor *who,
		    const struct command_ticket *ticket, const struct ticketd_config *cfg,
		    char **reason_r);

/* For a mail that threads to no ticket: only "#requestor ADDR" may stand
 * there (a forwarded customer mail; whether it is one is the caller's to
 * decide).  0, or -1 with "line 1: #close: no ticket to apply #close to". */
int commands_permit_without_ticket(const struct commands *cmds, char **reason_r);

/* "assign", "pickup" ... (without '#'). */
const char *commands_verb_name(enum command_verb verb);

/* The list of commands, one per line, for the mail that refuses some. */
extern const char commands_help[];

#endif
