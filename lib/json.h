/*
 * json.h - just enough JSON output for ticketctl --format=json: strings are
 * escaped per RFC 8259 (control characters as \uXXXX); the input must be
 * UTF-8, which everything from the database is.
 */
#ifndef TICKETD_JSON_H
#define TICKETD_JSON_H

#include <glib.h>

/* Appends value as a JSON string, or null when value is NULL. */
void json_append_string(GString *out, const char *value);

#endif
