/*  qemu_blockstats — a query-blockstats reply read straight from its text (see the header).
 *
 *  A recursive-descent JSON reader (RFC 8259) whose object members go to a handler: the handlers
 *  of the few members domstats reads store them, every other value is only checked and skipped.
 *  Nothing is allocated but the record itself.
 */
#include "qemu_blockstats.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *start, *p, *end;
    int nesting;
    const char *error;          /* what is wrong, NULL while all is well */
    bool oom;
} scan_t;

/*  A member handler: the scanner stands at the member's value, which the handler must consume
 *  (read it or skip it). Returns false on failure (set in the scanner). */
typedef bool (member_fn) (scan_t *s, const char *key, void *ctx);

static const char *const s_counter_names[QEMU_BS_NCOUNTERS] = {
    [QEMU_BS_RD_OPERATIONS] = "rd_operations",
    [QEMU_BS_RD_BYTES] = "rd_bytes",
    [QEMU_BS_RD_TOTAL_TIME_NS] = "rd_total_time_ns",
    [QEMU_BS_WR_OPERATIONS] = "wr_operations",
    [QEMU_BS_WR_BYTES] = "wr_bytes",
    [QEMU_BS_WR_TOTAL_TIME_NS] = "wr_total_time_ns",
    [QEMU_BS_FLUSH_OPERATIONS] = "flush_operations",
    [QEMU_BS_FLUSH_TOTAL_TIME_NS] = "flush_total_time_ns",
    [QEMU_BS_WR_HIGHEST_OFFSET] = "wr_highest_offset",
};

const char *
qemu_blockstats_counter_name (qemu_bs_counter_t counter)
{
    return counter < QEMU_BS_NCOUNTERS ? s_counter_names[counter] : "unknown";
}

/* --- the JSON reader ------------------------------------------------------------------------ */

static bool
s_fail (scan_t *s, const char *what)
{
    if (!s->error)
        s->error = what;
    return false;
}

static void
s_ws (scan_t *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool
s_peek (scan_t *s, char c)
{
    s_ws (s);
    return s->p < s->end && *s->p == c;
}

static bool
s_expect (scan_t *s, char c, const char *what)
{
    if (!s_peek (s, c))
        return s_fail (s, what);
    s->p++;
    return true;
}

static int
s_hex (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*  Four hex digits at P into *CODE. */
static bool
s_hex4 (scan_t *s, unsigned *code)
{
    if (s->end - s->p < 4)
        return s_fail (s, "a truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = s_hex (s->p[i]);
        if (h < 0)
            return s_fail (s, "a malformed \\u escape");
        v = v << 4 | (unsigned) h;
    }
    s->p += 4;
    *code = v;
    return true;
}

/*  Append the UTF-8 form of CODE (0x80 or above) to OUT at *LEN; the caller made room. */
static void
s_put_utf8 (char *out, size_t *len, unsigned code)
{
    char b[4];
    size_t n;
    if (code < 0x800)
        b[0] = (char) (0xc0 | code >> 6), b[1] = (char) (0x80 | (code & 0x3f)), n = 2;
    else if (code < 0x10000)
        b[0] = (char) (0xe0 | code >> 12), b[1] = (char) (0x80 | ((code >> 6) & 0x3f)),
        b[2] = (char) (0x80 | (code & 0x3f)), n = 3;
    else
        b[0] = (char) (0xf0 | code >> 18), b[1] = (char) (0x80 | ((code >> 12) & 0x3f)),
        b[2] = (char) (0x80 | ((code >> 6) & 0x3f)), b[3] = (char) (0x80 | (code & 0x3f)), n = 4;
    for (size_t i = 0; i < n; i++)
        out[(*len)++] = b[i];
}

/*  A string at P. With OUT (CAP bytes), its decoded text, NUL-terminated, cut at CAP - 1 bytes
 *  (*CUT set when it was); OUT NULL: checked and skipped. */
static bool
s_string (scan_t *s, char *out, size_t cap, bool *cut)
{
    size_t len = 0;
    if (cut)
        *cut = false;
    if (!s_expect (s, '"', "a string expected"))
        return false;
    for (;;) {
        if (s->p >= s->end)
            return s_fail (s, "an unterminated string");
        unsigned char c = (unsigned char) *s->p++;
        if (c == '"')
            break;
        if (c < 0x20)
            return s_fail (s, "a control character in a string");
        unsigned code = c;
        if (c == '\\') {
            if (s->p >= s->end)
                return s_fail (s, "an unterminated string");
            char e = *s->p++;
            switch (e) {
            case '"': code = '"'; break;
            case '\\': code = '\\'; break;
            case '/': code = '/'; break;
            case 'b': code = '\b'; break;
            case 'f': code = '\f'; break;
            case 'n': code = '\n'; break;
            case 'r': code = '\r'; break;
            case 't': code = '\t'; break;
            case 'u':
                if (!s_hex4 (s, &code))
                    return false;
                if (code >= 0xd800 && code < 0xdc00 && s->end - s->p >= 6 && s->p[0] == '\\'
                    && s->p[1] == 'u') {
                    /*  A surrogate pair is one character. */
                    const char *save = s->p;
                    unsigned low;
                    s->p += 2;
                    if (!s_hex4 (s, &low))
                        return false;
                    if (low >= 0xdc00 && low < 0xe000)
                        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                    else
                        s->p = save;
                }
                /*  A lone half is no character: U+FFFD, as json-c reads it. */
                if (code >= 0xd800 && code < 0xe000)
                    code = 0xfffd;
                break;
            default:
                return s_fail (s, "an unknown escape in a string");
            }
        }
        if (out) {
            /*  A raw byte is copied as it is (UTF-8 included); an escape is decoded. */
            size_t need = c != '\\' || code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
            if (len + need >= cap) {
                if (cut)
                    *cut = true;
            }
            else if (need == 1)
                out[len++] = (char) code;
            else
                s_put_utf8 (out, &len, code);
        }
    }
    if (out)
        out[len] = '\0';
    return true;
}

/*  A number at P. *VALUE gets it when it is a non-negative integer (*IS_U64 true), held at
 *  UINT64_MAX when larger, as json-c reads it; any other valid number is only checked. */
static bool
s_number (scan_t *s, uint64_t *value, bool *is_u64)
{
    const char *p = s->p;
    bool exact = true;
    uint64_t v = 0;
    if (p < s->end && *p == '-')
        p++, exact = false;
    if (p >= s->end || *p < '0' || *p > '9')
        return s_fail (s, "a malformed number");
    if (*p == '0')
        p++;
    else
        while (p < s->end && *p >= '0' && *p <= '9') {
            unsigned d = (unsigned) (*p++ - '0');
            v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
        }
    if (p < s->end && *p == '.') {
        p++, exact = false;
        if (p >= s->end || *p < '0' || *p > '9')
            return s_fail (s, "a malformed number");
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < s->end && (*p == 'e' || *p == 'E')) {
        p++, exact = false;
        if (p < s->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= s->end || *p < '0' || *p > '9')
            return s_fail (s, "a malformed number");
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    }
    s->p = p;
    *is_u64 = exact;
    *value = exact ? v : 0;
    return true;
}

static bool s_value (scan_t *s);

/*  An object at P; each member's value goes to FN (NULL: every value skipped). */
static bool
s_object (scan_t *s, member_fn *fn, void *ctx)
{
    if (!s_expect (s, '{', "an object expected"))
        return false;
    if (++s->nesting > QEMU_BLOCKSTATS_MAX_NESTING)
        return s_fail (s, "nesting too deep");
    if (s_peek (s, '}')) {
        s->p++;
        s->nesting--;
        return true;
    }
    for (;;) {
        /*  Keys domstats reads are short; a longer one matches none of them. */
        char key[32];
        bool cut;
        s_ws (s);
        if (!s_string (s, key, sizeof key, &cut) || !s_expect (s, ':', "':' expected"))
            return false;
        s_ws (s);
        if (!(fn && !cut ? fn (s, key, ctx) : s_value (s)))
            return false;
        if (s_peek (s, ',')) {
            s->p++;
            continue;
        }
        if (!s_expect (s, '}', "',' or '}' expected"))
            return false;
        s->nesting--;
        return true;
    }
}

/*  An array at P; each element goes to FN with key NULL (NULL: every element skipped). */
static bool
s_array (scan_t *s, member_fn *fn, void *ctx)
{
    if (!s_expect (s, '[', "an array expected"))
        return false;
    if (++s->nesting > QEMU_BLOCKSTATS_MAX_NESTING)
        return s_fail (s, "nesting too deep");
    if (s_peek (s, ']')) {
        s->p++;
        s->nesting--;
        return true;
    }
    for (;;) {
        s_ws (s);
        if (!(fn ? fn (s, NULL, ctx) : s_value (s)))
            return false;
        if (s_peek (s, ',')) {
            s->p++;
            continue;
        }
        if (!s_expect (s, ']', "',' or ']' expected"))
            return false;
        s->nesting--;
        return true;
    }
}

static bool
s_literal (scan_t *s, const char *word)
{
    size_t n = strlen (word);
    if ((size_t) (s->end - s->p) < n || memcmp (s->p, word, n) != 0)
        return s_fail (s, "an unexpected character");
    s->p += n;
    return true;
}

/*  Any value at P, checked and skipped. */
static bool
s_value (scan_t *s)
{
    s_ws (s);
    if (s->p >= s->end)
        return s_fail (s, "a value expected");
    uint64_t v;
    bool exact;
    switch (*s->p) {
    case '{': return s_object (s, NULL, NULL);
    case '[': return s_array (s, NULL, NULL);
    case '"': return s_string (s, NULL, 0, NULL);
    case 't': return s_literal (s, "true");
    case 'f': return s_literal (s, "false");
    case 'n': return s_literal (s, "null");
    default:
        if (*s->p != '-' && (*s->p < '0' || *s->p > '9'))
            return s_fail (s, "an unexpected character");
        return s_number (s, &v, &exact);
    }
}

/*  A value that should be a non-negative integer: *OUT gets it, or 0. */
static bool
s_u64 (scan_t *s, uint64_t *out)
{
    *out = 0;
    if (s->p < s->end && (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))) {
        bool exact;
        return s_number (s, out, &exact);
    }
    return s_value (s);
}

/*  A value that should be a string: *OUT gets a copy (replacing one read before), else NULL. */
static bool
s_strdup (scan_t *s, char **out)
{
    free (*out);
    *out = NULL;
    if (s->p >= s->end || *s->p != '"')
        return s_value (s);
    /*  The decoded text is never longer than the source. */
    const char *q = s->p + 1;
    while (q < s->end && *q != '"')
        q += *q == '\\' && q + 1 < s->end ? 2 : 1;
    size_t cap = (size_t) (q - s->p) + 1;
    char *text = malloc (cap);
    if (!text) {
        s->oom = true;
        return s_fail (s, "out of memory");
    }
    if (!s_string (s, text, cap, NULL)) {
        free (text);
        return false;
    }
    *out = text;
    return true;
}

/* --- what domstats reads ------------------------------------------------------------------ */

typedef struct {
    qemu_blocklayer_t *layer;
    size_t depth;               /* of LAYER: 0 = the top */
    qemu_blockdev_t *dev;       /* the device (for qdev), at the top only */
} layer_ctx_t;

static bool
s_on_counter (scan_t *s, const char *key, void *ctx)
{
    uint64_t *stats = (uint64_t *) ctx;
    for (size_t k = 0; k < QEMU_BS_NCOUNTERS; k++)
        if (strcmp (key, s_counter_names[k]) == 0)
            return s_u64 (s, &stats[k]);
    return s_value (s);
}

static bool
s_on_parent (scan_t *s, const char *key, void *ctx)
{
    qemu_blocklayer_t *layer = (qemu_blocklayer_t *) ctx;
    if (strcmp (key, "stats") == 0 && s->p < s->end && *s->p == '{') {
        /*  Only its wr_highest_offset is read; a fresh array takes what the object holds. */
        uint64_t stats[QEMU_BS_NCOUNTERS] = { 0 };
        if (!s_object (s, s_on_counter, stats))
            return false;
        layer->storage_wr_highest_offset = stats[QEMU_BS_WR_HIGHEST_OFFSET];
        return true;
    }
    if (strcmp (key, "stats") == 0)
        layer->storage_wr_highest_offset = 0;
    return s_value (s);
}

static void
s_layer_clear (qemu_blocklayer_t *layer)
{
    qemu_blocklayer_t *below = layer->backing;
    free (layer->node_name);
    memset (layer, 0, sizeof *layer);
    while (below) {
        qemu_blocklayer_t *next = below->backing;
        free (below->node_name);
        free (below);
        below = next;
    }
}

static bool
s_on_layer (scan_t *s, const char *key, void *ctx)
{
    layer_ctx_t *lc = (layer_ctx_t *) ctx;
    qemu_blocklayer_t *layer = lc->layer;
    bool is_object = s->p < s->end && *s->p == '{';
    if (strcmp (key, "node-name") == 0)
        return s_strdup (s, &layer->node_name);
    if (lc->dev && strcmp (key, "qdev") == 0)
        return s_strdup (s, &lc->dev->qdev);
    if (strcmp (key, "stats") == 0) {
        memset (layer->stats, 0, sizeof layer->stats);
        return is_object ? s_object (s, s_on_counter, layer->stats) : s_value (s);
    }
    if (strcmp (key, "parent") == 0) {
        layer->storage_wr_highest_offset = 0;
        return is_object ? s_object (s, s_on_parent, layer) : s_value (s);
    }
    if (strcmp (key, "backing") == 0) {
        /*  A repeated member replaces the chain read before, as a JSON object's last member
         *  does. */
        if (layer->backing) {
            qemu_blocklayer_t tmp = { .backing = layer->backing };
            s_layer_clear (&tmp);
            layer->backing = NULL;
        }
        if (!is_object || lc->depth + 1 >= QEMU_BLOCKSTATS_MAX_LAYERS)
            return s_value (s);
        qemu_blocklayer_t *below = calloc (1, sizeof *below);
        if (!below) {
            s->oom = true;
            return s_fail (s, "out of memory");
        }
        layer->backing = below;
        layer_ctx_t sub = { below, lc->depth + 1, NULL };
        return s_object (s, s_on_layer, &sub);
    }
    return s_value (s);
}

static bool
s_on_device (scan_t *s, const char *key, void *ctx)
{
    (void) key;
    qemu_blockstats_t *bs = (qemu_blockstats_t *) ctx;
    if (s->p >= s->end || *s->p != '{')
        return s_value (s);   /* an entry that is not an object carries nothing */
    qemu_blockdev_t *devs = realloc (bs->devs, (bs->ndevs + 1) * sizeof *devs);
    if (!devs) {
        s->oom = true;
        return s_fail (s, "out of memory");
    }
    bs->devs = devs;
    qemu_blockdev_t *dev = &devs[bs->ndevs++];
    memset (dev, 0, sizeof *dev);
    layer_ctx_t lc = { &dev->top, 0, dev };
    if (!s_object (s, s_on_layer, &lc))
        return false;
    /*  depth counts the layers actually chained (a replaced `backing` may have been deeper). */
    dev->depth = 0;
    for (const qemu_blocklayer_t *l = dev->top.backing; l; l = l->backing)
        dev->depth++;
    return true;
}

typedef struct {
    qemu_blockstats_t *bs;
    bool seen;                  /* a "return" member was read */
} reply_ctx_t;

static bool
s_on_reply (scan_t *s, const char *key, void *ctx)
{
    reply_ctx_t *rc = (reply_ctx_t *) ctx;
    qemu_blockstats_t *bs = rc->bs;
    if (strcmp (key, "return") != 0)
        return s_value (s);
    if (s->p >= s->end || *s->p != '[')
        return s_fail (s, "a \"return\" that is not an array");
    for (size_t i = 0; i < bs->ndevs; i++) {
        free (bs->devs[i].qdev);
        s_layer_clear (&bs->devs[i].top);
    }
    bs->ndevs = 0;
    rc->seen = true;
    return s_array (s, s_on_device, bs);
}

qemu_blockstats_t *
qemu_blockstats_parse (const char *text, size_t len, vb_error_t *err)
{
    qemu_blockstats_t *bs = calloc (1, sizeof *bs);
    if (!bs || !text) {
        free (bs);
        vb_error_set (err, bs || !text ? VB_ERR_INVALID_ARG : VB_ERR_INTERNAL,
                      !text ? "no query-blockstats reply to read"
                            : "out of memory reading a query-blockstats reply");
        return NULL;
    }
    scan_t s = { .start = text, .p = text, .end = text + len };
    bool ok;
    if (s_peek (&s, '[')) {
        ok = s_array (&s, s_on_device, bs);
    }
    else if (s_peek (&s, '{')) {
        reply_ctx_t rc = { bs, false };
        ok = s_object (&s, s_on_reply, &rc);
        if (ok && !rc.seen)
            ok = s_fail (&s, "an object without \"return\"");
    }
    else
        ok = s_value (&s) && s_fail (&s, "neither an array nor a reply object");
    if (ok) {
        s_ws (&s);
        if (s.p != s.end)
            ok = s_fail (&s, "trailing data");
    }
    if (!ok) {
        if (s.oom)
            vb_error_set (err, VB_ERR_INTERNAL, "out of memory reading a query-blockstats reply");
        else
            vb_error_set (err, VB_ERR_OPERATION_FAILED, "QEMU's query-blockstats reply is not "
                          "JSON: %s at byte %zu", s.error ? s.error : "malformed",
                          (size_t) (s.p - s.start));
        qemu_blockstats_destroy (&bs);
        return NULL;
    }
    return bs;
}

void
qemu_blockstats_destroy (qemu_blockstats_t **self_p)
{
    qemu_blockstats_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    for (size_t i = 0; i < self->ndevs; i++) {
        free (self->devs[i].qdev);
        s_layer_clear (&self->devs[i].top);
    }
    free (self->devs);
    free (self);
    *self_p = NULL;
}

const qemu_blockdev_t *
qemu_blockstats_by_node (const qemu_blockstats_t *self, const char *node_name)
{
    for (size_t i = 0; self && node_name && i < self->ndevs; i++)
        if (self->devs[i].top.node_name && strcmp (self->devs[i].top.node_name, node_name) == 0)
            return &self->devs[i];
    return NULL;
}

const qemu_blockdev_t *
qemu_blockstats_by_qdev (const qemu_blockstats_t *self, const char *qdev)
{
    for (size_t i = 0; self && qdev && i < self->ndevs; i++)
        if (self->devs[i].qdev && strcmp (self->devs[i].qdev, qdev) == 0)
            return &self->devs[i];
    return NULL;
}
