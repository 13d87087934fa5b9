/*
 * message-gmime.h - GMime's parse of one whole message over the caller's
 * buffer, borrowed in place: a byte array that does not own it, so a large
 * message is in memory once (g_mime_stream_mem_new_with_buffer() would copy
 * it).  For the modules that walk the MIME tree themselves: message.c,
 * bounce.c, pgp.c.  The buffer must outlive the handle; GMime objects taken
 * from the message are released before message_gmime_close().
 */
#ifndef TICKETD_MESSAGE_GMIME_H
#define TICKETD_MESSAGE_GMIME_H

#include <gmime/gmime.h>
#include <stddef.h>

struct message_gmime {
	GByteArray *borrowed;
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeMessage *message; /* NULL: GMime found no header */
};

/* Parses data (options may be NULL); returns g->message. */
GMimeMessage *message_gmime_open(struct message_gmime *g, const char *data, size_t len,
				 GMimeParserOptions *options);
/* Releases the message first (its header lists may call the options'
 * warning callback), then the parser and the stream; the buffer is handed
 * back untouched. */
void message_gmime_close(struct message_gmime *g);

#endif
