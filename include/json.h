/* A small JSON writer: commas, newlines and indentation placed for the caller. */
#ifndef IMQD_JSON_H
#define IMQD_JSON_H

#include <stdint.h>
#include <stdio.h>

/* Where the writer is: set up with json_init, then only through the functions below. */
struct json {
	FILE *out;
	int pretty;
	int depth;
	int need_comma; /* something was written in the current container */
};

/* Write to OUT, on one line or indented by two spaces a level (PRETTY). */
void json_init(struct json *j, FILE *out, int pretty);

/* S as a JSON string; bytes that are not UTF-8 become U+FFFD so the output stays valid. */
void json_string(FILE *out, const char *s);

/* Start a member (KEY) or an array element (KEY NULL); the caller writes the value. */
void json_item(struct json *j, const char *key);

/* Open an object ('{') or array ('['), as member KEY or as an element (KEY NULL). */
void json_open(struct json *j, const char *key, char bracket);

/* Close what the last json_open opened, with its closing BRACKET. */
void json_close(struct json *j, char bracket);

/* A number as member KEY or element (KEY NULL). */
void json_u64(struct json *j, const char *key, uint64_t v);

/* A string as member KEY or element (KEY NULL). */
void json_str(struct json *j, const char *key, const char *s);

#endif
