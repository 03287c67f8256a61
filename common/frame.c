/* Length-prefixed JSON frames (frame.h). */
#include "frame.h"

#include <stdlib.h>
#include <string.h>

void frame_reader_init(struct frame_reader *r, size_t max)
{
    memset(r, 0, sizeof(*r));
    r->max = (max == 0 || max > STK_FRAME_MAX) ? STK_FRAME_MAX : max;
}

void frame_reader_release(struct frame_reader *r)
{
    free(r->payload);
    size_t max = r->max;
    memset(r, 0, sizeof(*r));
    r->max = max;
}

enum stk_err frame_header(size_t len, unsigned char hdr[STK_FRAME_HEADER])
{
    if (len == 0 || len > STK_FRAME_MAX) {
        return STK_ETOOBIG;
    }
    hdr[0] = (unsigned char)(len >> 24);
    hdr[1] = (unsigned char)(len >> 16);
    hdr[2] = (unsigned char)(len >> 8);
    hdr[3] = (unsigned char)len;
    return STK_OK;
}

enum stk_err frame_reader_feed(struct frame_reader *r, const void *data, size_t len, size_t *used,
                               char **out, size_t *out_len)
{
    const unsigned char *p = data;
    size_t pos = 0;
    *out = NULL;
    *out_len = 0;
    while (pos < len) {
        if (r->want == 0) {
            r->hdr[r->hdr_have++] = p[pos++];
            if (r->hdr_have < STK_FRAME_HEADER) {
                continue;
            }
            uint32_t n = (uint32_t)r->hdr[0] << 24 | (uint32_t)r->hdr[1] << 16 |
                         (uint32_t)r->hdr[2] << 8 | (uint32_t)r->hdr[3];
            r->hdr_have = 0;
            if (n == 0) {
                *used = pos;
                return STK_EINVAL;
            }
            if (n > r->max) {
                *used = pos;
                return STK_ETOOBIG;
            }
            /* Memory follows the bytes that arrived, not the announced length,
             * so a peer cannot reserve a megabyte per connection with four. */
            r->want = n;
            r->have = 0;
            continue;
        }
        size_t take = r->want - r->have;
        if (take > len - pos) {
            take = len - pos;
        }
        size_t need = r->have + take + 1;
        char *grown = realloc(r->payload, need);
        if (grown == NULL) {
            *used = pos;
            return STK_ENOMEM;
        }
        r->payload = grown;
        memcpy(r->payload + r->have, p + pos, take);
        r->have += take;
        pos += take;
        if (r->have == r->want) {
            r->payload[r->have] = '\0';
            *out = r->payload;
            *out_len = r->have;
            r->payload = NULL;
            r->want = 0;
            r->have = 0;
            break;
        }
    }
    *used = pos;
    return STK_OK;
}
