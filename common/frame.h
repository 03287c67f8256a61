/* The agent channel's framing, shared by the gateway and the agent
 * (docs/agents.md): each message is a 4-byte big-endian length followed by
 * that many bytes of UTF-8 JSON (one object). A length of 0 or above
 * STK_FRAME_MAX is a protocol error and ends the connection. */
#ifndef STK_FRAME_H
#define STK_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define STK_FRAME_MAX (1024u * 1024u) /* bytes of JSON in one frame */
#define STK_FRAME_HEADER 4

/* Incremental decoder: feed it whatever bytes arrived, take whole frames
 * out. Holds at most one frame plus its header. */
struct frame_reader {
    unsigned char hdr[STK_FRAME_HEADER];
    size_t hdr_have;
    uint32_t want; /* payload length of the frame being read, 0: reading header */
    char *payload; /* malloc'ed want + 1 bytes (NUL-terminated when complete) */
    size_t have;
    size_t max; /* frames longer than this are refused; <= STK_FRAME_MAX */
};

/* Fills `r` empty with the limit `max` (0 means STK_FRAME_MAX). */
void frame_reader_init(struct frame_reader *r, size_t max);

/* Frees what `r` holds; it may be reused after frame_reader_init(). */
void frame_reader_release(struct frame_reader *r);

/* Consumes bytes from `data` (up to `len`), stopping after the first
 * complete frame. `*used` says how many bytes were consumed. When a frame
 * is complete, `*out` receives its payload (NUL-terminated, caller frees
 * with free()) and `*out_len` its length; otherwise `*out` is NULL.
 * STK_ETOOBIG for a length over the limit, STK_EINVAL for a zero length,
 * STK_ENOMEM; after an error the reader must be released. */
enum stk_err frame_reader_feed(struct frame_reader *r, const void *data, size_t len, size_t *used,
                               char **out, size_t *out_len);

/* Writes the 4-byte header for a payload of `len` bytes into `hdr`.
 * STK_ETOOBIG when len is 0 or above STK_FRAME_MAX. */
enum stk_err frame_header(size_t len, unsigned char hdr[STK_FRAME_HEADER]);

#endif
