/*
 * classify.h - is an incoming message automatic (RFC 3834), and may it get an
 * auto-response?  Pure functions of the parsed message and the config; no
 * database.  Automatic mail (auto-replies, out-of-office notices, list and
 * bulk mail, bounces, mail from ourselves) is recorded on a ticket but changes
 * no state and never gets an auto-response.
 */
#ifndef TICKETD_CLASSIFY_H
#define TICKETD_CLASSIFY_H

#include <stdbool.h>

#include "config.h"
#include "message.h"

struct classification {
	bool automatic;     /* recorded, changes no state, no auto-response */
	const char *reason; /* static text: why it is automatic, or NULL */
};

void classify_message(const struct parsed_message *msg, const struct ticketd_config *cfg,
		      struct classification *result);

#endif
