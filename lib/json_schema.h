/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One strict reader for the JSON files cvm takes as input (orders, image
 * descriptions, reference values, broker policies and configuration, the
 * agent's configuration and the job manifest). A table of members says, for
 * each member, its name, type, bounds, whether it is required and where in
 * a struct it is stored; json_schema_read() applies one rule set:
 *
 * - an object's members are all in its table: the first unknown one is
 *   refused and named, with its path ("snp.min_tcb.fmc");
 * - a required member that is absent is refused and named;
 * - JSON_INT: a JSON number with no fraction, 0 to 2^53 - 1 (cJSON holds
 *   numbers as doubles, which hold every integer below 2^53 exactly and
 *   may already have rounded a larger one), within [min, max];
 * - JSON_INT_OR_HEX: as JSON_INT, or a string "0x" and 1 to 16 hex digits
 *   for the whole 64-bit range; used only where the file's doc says so;
 * - JSON_HEX: a string of exactly 2 * size hex digits into size bytes;
 * - JSON_STRING: min to size - 1 bytes (size of the char array), copied
 *   with its NUL; JSON_STRREF: min to max bytes, a pointer into the tree;
 * - JSON_ENUM: one of a list of names, stored as its index;
 * - JSON_BITS: an array of names, each mapped to a bit and ORed together.
 *
 * An absent optional member leaves its field as the caller set it (the
 * default); a present one sets its "has" flag when the member names one.
 * Errors are one line: the document's code prefix, then the member's path
 * and why, worded by the document's words (each file keeps the wording its
 * docs and users know). Input text never reaches an error line except a
 * member name of at most 40 printable bytes ("(unprintable)" otherwise).
 */
#ifndef CVM_JSON_SCHEMA_H
#define CVM_JSON_SCHEMA_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

/* The largest integer a JSON number may carry here: 2^53 - 1. */
#define JSON_INT_MAX 9007199254740991ull

enum json_type {
	JSON_BOOL,
	JSON_INT,
	JSON_INT_OR_HEX,
	JSON_HEX,
	JSON_STRING,
	JSON_STRREF,
	JSON_ENUM,
	JSON_BITS,
	JSON_OBJECT,
	JSON_CUSTOM,
};

#define JSON_REQUIRED 0x1u  /* absent is an error */
#define JSON_HAS 0x2u	    /* the bool at .has is set when the member is present */
#define JSON_PRINTABLE 0x4u /* strings: printable ASCII only (0x20..0x7e) */
#define JSON_NONEMPTY 0x8u  /* JSON_BITS: at least one name */

struct json_reader;
struct json_schema;
struct json_words;

struct json_member {
	const char *name;
	enum json_type type;
	unsigned flags;
	size_t off;  /* of the field in the struct the table describes */
	size_t size; /* of the field: 1, 2, 4 or 8 for integers, bytes for hex and strings */
	size_t has;  /* of a bool, with JSON_HAS */
	uint64_t min, max;
	const struct json_schema *object;  /* JSON_OBJECT: the table of the field's struct */
	const char *const *names;	   /* JSON_ENUM: NULL-terminated */
	uint64_t (*bit)(const char *name); /* JSON_BITS: 0 for an unknown name */
	const char *list;		   /* JSON_ENUM, JSON_BITS: the names, for errors */
	int (*read)(struct json_reader *rd, const cJSON *v, void *field); /* JSON_CUSTOM */
	const struct json_words *words; /* this member's own wording, NULL for the document's */
};

struct json_schema {
	const struct json_member *m;
	size_t n;
	/* Cross-member rules, after every member was read (NULL for none). */
	int (*check)(struct json_reader *rd, void *base);
};

/*
 * The wording of refusals, as templates: {path} the member's path, {name}
 * its name, {in} the object it is in, {min} {max} {value} {len} {bytes}
 * {digits} {list} as they apply. A NULL entry takes the default, shown.
 */
struct json_words {
	const char *not_object; /* "{path}: not an object" */
	const char *unknown;	/* "{path}: unknown member" */
	const char *missing;	/* "{path}: required" */
	const char *not_bool;	/* "{path}: not true or false" */
	const char *not_int;	/* "{path}: not a whole number" */
	const char *range;	/* "{path}: {value} not in {min}..{max}" */
	const char *not_hex;	/* "{path}: not {digits} hex digits" */
	const char *not_string; /* "{path}: not a string" */
	const char *length;	/* "{path}: length {len} not in {min}..{max}" */
	const char *printable;	/* "{path}: not printable ASCII" */
	const char *not_name;	/* "{path}: not one of {list}" */
};

struct json_doc {
	const char *code;		/* the prefix of every error: "E_ORDER: " */
	const char *root;		/* the root object's name in errors: "the order" */
	int error;			/* returned on refusal: -EINVAL or -EBADMSG */
	const struct json_words *words; /* NULL: the defaults */
};

/*
 * Reads v, which must be an object, by schema s into base (the struct the
 * table describes). 0, or doc->error with one line in err; -ENOMEM from a
 * custom reader passes through. Fields already read stay written on
 * failure: callers that promise an empty struct on failure clear it.
 */
int json_schema_read(const cJSON *v, const struct json_schema *s, void *base,
		     const struct json_doc *doc, char *err, size_t errlen);

/* ---- for JSON_CUSTOM readers and check functions ---- */

/* The path of the member being read ("" at the root). */
const char *json_reader_path(const struct json_reader *rd);
/* The document being read. */
const struct json_doc *json_reader_doc(const struct json_reader *rd);

/*
 * Refuses: "<code><path><sub>: <why>" (sub: "" or ".name" or "[0]" after
 * the current path), returning the document's error code.
 */
int json_reader_fail(struct json_reader *rd, const char *sub, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Applies the JSON_STRREF rule (min to max bytes) to v, at the current path. */
int json_reader_string(struct json_reader *rd, const cJSON *v, size_t min, size_t max,
		       const char **out);

/* Reads a nested object by its own table at the current path + "." + name (NULL: at the current path). */
int json_reader_object(struct json_reader *rd, const char *name, const cJSON *v,
		       const struct json_schema *s, void *base);

/* A member name of the input as it may appear in an error line. */
const char *json_shown_name(const char *s);

/* ---- table rows ---- */

#define JSON_FIELD(T, f) .off = offsetof(T, f), .size = sizeof(((T *)0)->f)
#define JSON_HAS_FIELD(T, h) .has = offsetof(T, h)
/* A table of rows, with no cross-member check. */
#define JSON_SCHEMA(rows)                                      \
	{                                                      \
		(rows), sizeof(rows) / sizeof((rows)[0]), NULL \
	}

#endif
