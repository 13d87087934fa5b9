/*
 * message-private.h - what the parts of the message module share:
 * message.c (parser setup, header fields, addresses, ids, Date),
 * message-body.c (the MIME walk for the text and the attachments) and
 * message-rfc2047.c (a repair of encoded words before GMime decodes them).
 * Not part of the message.h contract; nothing outside those files includes it.
 *
 * Memory: strings returned are new and owned by the caller.  Nothing here
 * fails: problems are repaired and recorded in msg->warnings.
 */
#ifndef TICKETD_MESSAGE_PRIVATE_H
#define TICKETD_MESSAGE_PRIVATE_H

#include "message.h"

#include <gmime/gmime.h>

/* Records a repair in msg->warnings, once, up to a limit. */
void message_add_warning(struct parsed_message *msg, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* A header value as we hand it out: valid UTF-8, one line, trimmed. */
char *message_clean_value(const char *value);

/* Rewrites the raw value of each of object's own headers in which GMime
 * 3.2.13 would lose text after a padded base64 encoded word (see
 * message-rfc2047.c); call it before reading decoded values of the object. */
void message_repair_encoded_words(GMimeObject *object);

/* Walks the MIME tree of message within limits (every limit set, none 0):
 * sets msg->text and msg->text_from_html and adds msg->attachments.  options
 * are the parser's, used again for a multipart parsed with a guessed
 * boundary.  GMime objects are only borrowed. */
void message_read_body(struct parsed_message *msg, GMimeMessage *message,
		       GMimeParserOptions *options, const struct message_limits *limits);

#endif
