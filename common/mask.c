/* mask.c - masking of personal data. */
#include <stdbool.h>
#include <string.h>

#include "hotline/mask.h"

/* Keep the first `head` and the last `tail` code points, star the rest; a
 * value too short for that is starred entirely. */
static void keep(const char *in, size_t head, size_t tail, char *out, size_t n)
{
    size_t len = strlen(in), cps = 0;
    for (size_t i = 0; i < len; i++) cps += ((unsigned char)in[i] & 0xC0) != 0x80;
    size_t o = 0, cp = 0;
    bool whole = cps <= head + tail;
    for (size_t i = 0; i < len && o + 5 < n;) {
        size_t clen = 1;
        while (i + clen < len && ((unsigned char)in[i + clen] & 0xC0) == 0x80) clen++;
        bool show = !whole && (cp < head || cp >= cps - tail);
        if (show) {
            memcpy(out + o, in + i, clen);
            o += clen;
        } else {
            out[o++] = '*';
        }
        i += clen;
        cp++;
    }
    out[o] = '\0';
}

void hl_mask_phone(const char *in, char *out, size_t n)
{
    keep(in, 3, 4, out, n);
}

void hl_mask_name(const char *in, char *out, size_t n)
{
    /* 张三 -> 张*; a one-character name is starred whole. */
    keep(in, 1, 0, out, n);
}

void hl_mask_id_number(const char *in, char *out, size_t n)
{
    keep(in, 6, 4, out, n);
}
