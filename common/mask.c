/* mask.c - masking of personal data. */
#include <stdbool.h>
#include <stdlib.h>
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

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The end of a number run starting at s[i] (a digit): digits, with single
 * spaces or hyphens between them; *ndigits gets the digits in it. */
static size_t run_end(const char *s, size_t i, size_t *ndigits)
{
    size_t n = 0, end = i;
    while (s[i]) {
        if (is_digit(s[i])) {
            n++;
            end = ++i;
        } else if ((s[i] == ' ' || s[i] == '-') && is_digit(s[i + 1]) && i > 0 && is_digit(s[i - 1])) {
            i++;
        } else if ((s[i] == 'X' || s[i] == 'x') && n == 17) {
            n++;
            end = ++i;
            break;
        } else {
            break;
        }
    }
    *ndigits = n;
    return end;
}

/* Is s[i] inside an e-mail address's local part start? Returns the length
 * of the local part (0: not an address). */
static size_t email_local(const char *s, size_t i)
{
    size_t j = i;
    while (s[j] && (is_digit(s[j]) || (s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') ||
                    s[j] == '.' || s[j] == '_' || s[j] == '-' || s[j] == '+'))
        j++;
    if (j == i || s[j] != '@') return 0;
    size_t k = j + 1, dots = 0;
    while (s[k] && (is_digit(s[k]) || (s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z') ||
                    s[k] == '.' || s[k] == '-'))
        dots += s[k++] == '.';
    return dots && k > j + 2 ? j - i : 0;
}

static bool word_char(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-' ||
           c == '+';
}

char *hl_mask_text(const char *in)
{
    size_t len = strlen(in);
    char *out = malloc(len + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t loc = (i == 0 || !word_char(in[i - 1])) ? email_local(in, i) : 0;
        if (loc) {
            out[o++] = in[i];
            for (size_t k = 1; k < loc; k++) out[o++] = '*';
            i += loc;
            continue;
        }
        if (is_digit(in[i]) && (i == 0 || !is_digit(in[i - 1]))) {
            size_t nd, end = run_end(in, i, &nd);
            if (nd >= 7) {
                size_t head = 2, tail = 2;
                if (nd == 11 && in[i] == '1') head = 3, tail = 4;
                else if (nd == 15 || nd == 18) head = 6, tail = 4;
                size_t d = 0;
                for (size_t k = i; k < end; k++) {
                    bool digit = is_digit(in[k]) || in[k] == 'X' || in[k] == 'x';
                    if (!digit) {
                        out[o++] = in[k];
                        continue;
                    }
                    out[o++] = d < head || d >= nd - tail ? in[k] : '*';
                    d++;
                }
                i = end;
                continue;
            }
            memcpy(out + o, in + i, end - i);
            o += end - i;
            i = end;
            continue;
        }
        out[o++] = in[i++];
    }
    out[o] = '\0';
    return out;
}
