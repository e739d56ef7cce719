/*  vb_domxml — libvirt domain XML <-> vb_domain_def_t. See vb_domxml.h for the contract.
 *
 *  Parsing reads the document with libxml2 into a tree (never expanding entities, never loading
 *  a DTD, refusing any DOCTYPE through the parser's own SAX hook), then walks the tree once,
 *  building the definition; every value is checked where it is read. Formatting writes libvirt's
 *  layout directly into a growable buffer.
 */
#include "vb_domxml.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "vb_util.h"

/*  Deeper chains than this are refused: QEMU's own limit on backing chains is far lower in
 *  practice, and the bound keeps a hostile document from building a huge list. */
#define DOMXML_MAX_CHAIN 64
#define DOMXML_MAX_VCPUS 4096
/*  User-supplied values quoted in error messages are cut to this many bytes. */
#define Q "%.64s"

static const char *const domain_types[] = { "kvm", "qemu", "lxc", "xen", "test" };
static const char *const lifecycle_names[] = { "destroy", "restart", "preserve", "rename-restart",
                                               "coredump-destroy", "coredump-restart" };
static const char *const disk_type_names[] = { "file", "block" };
static const char *const disk_device_names[] = { "disk", "cdrom" };
static const char *const disk_format_names[] = { "raw", "qcow2" };
static const char *const disk_bus_names[] = { "virtio", "sata", "scsi", "xen", "ide" };
static const char *const net_type_names[] = { "user", "ethernet" };
static const char *const chr_kind_names[] = { "serial", "console" };

#define NELEMS(a) (sizeof (a) / sizeof ((a)[0]))

_Static_assert (NELEMS (lifecycle_names) == VB_LIFECYCLE_COREDUMP_RESTART + 1,
                "lifecycle_names[] out of step with vb_lifecycle_action_t");
_Static_assert (NELEMS (disk_bus_names) == VB_DISK_BUS_IDE + 1,
                "disk_bus_names[] out of step with vb_disk_bus_t");
_Static_assert (NELEMS (disk_format_names) == VB_DISK_FORMAT_QCOW2 + 1,
                "disk_format_names[] out of step with vb_disk_format_t");
_Static_assert (NELEMS (net_type_names) == VB_NET_TYPE_ETHERNET + 1,
                "net_type_names[] out of step with vb_net_type_t");

static int
lookup (const char *const *names, size_t n, const char *value)
{
    if (!value)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp (names[i], value) == 0)
            return (int) i;
    return -1;
}

/* ---------------------------------------------------------------------------------------------
 *  A growable string. Allocation failure is sticky: later appends do nothing, sb_take answers
 *  NULL, so callers check once at the end.
 */
typedef struct {
    char *data;
    size_t len, cap;
    bool failed;
} strbuf_t;

static void
sb_append (strbuf_t *sb, const char *s, size_t n)
{
    if (sb->failed)
        return;
    if (sb->len + n + 1 > sb->cap) {
        size_t cap = sb->cap ? sb->cap : 256;
        while (cap < sb->len + n + 1)
            cap *= 2;
        char *data = realloc (sb->data, cap);
        if (!data) {
            sb->failed = true;
            return;
        }
        sb->data = data;
        sb->cap = cap;
    }
    memcpy (sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

static void
sb_puts (strbuf_t *sb, const char *s)
{
    sb_append (sb, s, strlen (s));
}

static void sb_printf (strbuf_t *sb, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
sb_printf (strbuf_t *sb, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (small, sizeof small, fmt, ap);
    va_end (ap);
    if (n < 0) {
        sb->failed = true;
        return;
    }
    if ((size_t) n < sizeof small) {
        sb_append (sb, small, (size_t) n);
        return;
    }
    char *big = malloc ((size_t) n + 1);
    if (!big) {
        sb->failed = true;
        return;
    }
    va_start (ap, fmt);
    vsnprintf (big, (size_t) n + 1, fmt, ap);
    va_end (ap);
    sb_append (sb, big, (size_t) n);
    free (big);
}

static void
sb_indent (strbuf_t *sb, int level)
{
    for (int i = 0; i < level; i++)
        sb_append (sb, "  ", 2);
}

/*  XML-escape S. Attribute values (quoted with ') also escape quotes and the whitespace that
 *  attribute-value normalisation would otherwise turn into spaces; text escapes \r, which the
 *  parser would otherwise fold into \n. */
static void
sb_escape (strbuf_t *sb, const char *s, bool attr)
{
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&': sb_puts (sb, "&amp;"); break;
        case '<': sb_puts (sb, "&lt;"); break;
        case '>': sb_puts (sb, "&gt;"); break;
        case '\r': sb_puts (sb, "&#13;"); break;
        case '\'': sb_puts (sb, attr ? "&apos;" : "'"); break;
        case '"': sb_puts (sb, attr ? "&quot;" : "\""); break;
        case '\n': sb_puts (sb, attr ? "&#10;" : "\n"); break;
        case '\t': sb_puts (sb, attr ? "&#9;" : "\t"); break;
        default: sb_append (sb, p, 1); break;
        }
    }
}

/*  Append " NAME='VALUE'" when VALUE is set. */
static void
sb_attr (strbuf_t *sb, const char *name, const char *value)
{
    if (!value)
        return;
    sb_printf (sb, " %s='", name);
    sb_escape (sb, value, true);
    sb_puts (sb, "'");
}

/*  Append "<NAME>TEXT</NAME>\n" at LEVEL when TEXT is set. */
static void
sb_text_element (strbuf_t *sb, int level, const char *name, const char *text)
{
    if (!text)
        return;
    sb_indent (sb, level);
    sb_printf (sb, "<%s>", name);
    sb_escape (sb, text, false);
    sb_printf (sb, "</%s>\n", name);
}

/*  Append an extra_xml blob (whole elements, already indented), ending it with a newline. */
static void
sb_extra (strbuf_t *sb, const char *extra)
{
    if (!extra || !*extra)
        return;
    sb_puts (sb, extra);
    if (extra[strlen (extra) - 1] != '\n')
        sb_puts (sb, "\n");
}

/*  The buffer's string (caller frees), or NULL after an allocation failure. Empties SB. */
static char *
sb_take (strbuf_t *sb)
{
    char *s = NULL;
    if (!sb->failed)
        s = sb->data ? sb->data : strdup ("");
    else
        free (sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
    sb->failed = false;
    return s;
}

/*  Free SB's contents and empty it. */
static void
sb_reset (strbuf_t *sb)
{
    free (sb->data);
    memset (sb, 0, sizeof *sb);
}

/* ---------------------------------------------------------------------------------------------
 *  Errors and small readers.
 */
static int xml_fail (vb_error_t *err, xmlNodePtr node, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/*  INVALID_XML naming NODE's element and line. Returns -1. */
static int
xml_fail (vb_error_t *err, xmlNodePtr node, const char *fmt, ...)
{
    char reason[VB_ERROR_MESSAGE_MAX - 128];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (reason, sizeof reason, fmt, ap);
    va_end (ap);
    return vb_error_set (err, VB_ERR_INVALID_XML, "<%.64s> at line %ld: %s",
                         (const char *) node->name, xmlGetLineNo (node), reason);
}

static int
oom (vb_error_t *err)
{
    return vb_error_set (err, VB_ERR_INTERNAL, "out of memory while handling domain XML");
}

/*  Is NODE an element of no namespace called NAME? */
static bool
is_elem (xmlNodePtr node, const char *name)
{
    return node->type == XML_ELEMENT_NODE && node->ns == NULL
           && xmlStrEqual (node->name, BAD_CAST name);
}

/*  The value of NODE's attribute NAME (no namespace), borrowed from the tree; NULL when absent.
 *  Without a DTD an attribute value is a single text node (character and predefined entity
 *  references are already folded into it), so no copy is needed. */
static const char *
attr_value (xmlNodePtr node, const char *name)
{
    for (xmlAttrPtr a = node->properties; a; a = a->next) {
        if (a->ns != NULL || !xmlStrEqual (a->name, BAD_CAST name))
            continue;
        if (!a->children)
            return "";
        if (a->children->type == XML_TEXT_NODE && a->children->next == NULL
            && a->children->content)
            return (const char *) a->children->content;
        return "";
    }
    return NULL;
}

/*  *OUT = copy of S (NULL stays NULL). Returns 0, or -1 with ERR on allocation failure. */
static int
dup_str (const char *s, char **out, vb_error_t *err)
{
    *out = NULL;
    if (!s)
        return 0;
    *out = strdup (s);
    return *out ? 0 : oom (err);
}

/*  *OUT = NODE's text content (a new string; "" for an empty element). */
static int
get_text (xmlNodePtr node, char **out, vb_error_t *err)
{
    *out = NULL;
    xmlChar *content = xmlNodeGetContent (node);
    if (!content)
        return oom (err);
    int rc = dup_str ((const char *) content, out, err);
    xmlFree (content);
    return rc;
}

/*  Trim ASCII whitespace from both ends of S in place. */
static char *
trim (char *s)
{
    while (*s && isspace ((unsigned char) *s))
        s++;
    size_t n = strlen (s);
    while (n > 0 && isspace ((unsigned char) s[n - 1]))
        s[--n] = '\0';
    return s;
}

/*  Parse an unsigned decimal (digits only, surrounding whitespace allowed). */
static bool
parse_u64 (const char *text, uint64_t *out)
{
    while (*text && isspace ((unsigned char) *text))
        text++;
    if (!isdigit ((unsigned char) *text))
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull (text, &end, 10);
    if (errno != 0)
        return false;
    while (*end && isspace ((unsigned char) *end))
        end++;
    if (*end)
        return false;
    *out = v;
    return true;
}

/*  Is every byte of S (non-empty, at most MAX bytes) alphanumeric or in EXTRA? */
static bool
charset_ok (const char *s, const char *extra, size_t max)
{
    size_t n = strlen (s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum ((unsigned char) s[i]) && !strchr (extra, s[i]))
            return false;
    return true;
}

/*  Paths go to QEMU's command line, liblxc and libxl: absolute, without control characters. */
static bool
path_ok (const char *s)
{
    if (!s || s[0] != '/' || strlen (s) > 4096)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char) *p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/*  Read NODE's text into *OUT (freeing an earlier value is the caller's concern: duplicates
 *  are refused before this is called). */
static int
get_path_text (xmlNodePtr node, char **out, vb_error_t *err)
{
    if (get_text (node, out, err) < 0)
        return -1;
    if (!path_ok (*out)) {
        xml_fail (err, node, "'" Q "' is not an absolute path", *out);
        free (*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

/*  Read NODE's attribute NAME as an absolute path into *OUT (NULL when absent). */
static int
get_path_attr (xmlNodePtr node, const char *name, char **out, vb_error_t *err)
{
    *out = NULL;
    const char *v = attr_value (node, name);
    if (!v)
        return 0;
    if (!path_ok (v))
        return xml_fail (err, node, "%s '" Q "' is not an absolute path", name, v);
    return dup_str (v, out, err);
}

/* ---------------------------------------------------------------------------------------------
 *  Reading the document safely.
 */

/*  SAX hook for <!DOCTYPE ...>: a domain definition never needs one, and refusing it closes
 *  every entity-expansion and external-entity door at once. */
static void
refuse_doctype (void *ctx, const xmlChar *name, const xmlChar *external_id,
                const xmlChar *system_id)
{
    (void) name;
    (void) external_id;
    (void) system_id;
    xmlParserCtxtPtr ctxt = ctx;
    bool *saw_doctype = ctxt->_private;
    *saw_doctype = true;
    xmlStopParser (ctxt);
}

/*  Parse XML into a tree. Returns the document (xmlFreeDoc), or NULL with ERR. */
static xmlDocPtr
read_doc (const char *xml, size_t len, vb_error_t *err)
{
    if (!xml || len == 0) {
        vb_error_set (err, VB_ERR_INVALID_XML, "the domain XML is empty");
        return NULL;
    }
    if (len > VB_DOMXML_MAX_BYTES) {
        vb_error_set (err, VB_ERR_INVALID_XML,
                      "the domain XML is %zu bytes, more than the limit of %d bytes", len,
                      VB_DOMXML_MAX_BYTES);
        return NULL;
    }
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt ();
    if (!ctxt) {
        oom (err);
        return NULL;
    }
    bool saw_doctype = false;
    ctxt->_private = &saw_doctype;
    ctxt->sax->internalSubset = refuse_doctype;
    ctxt->sax->externalSubset = refuse_doctype;
    /*  No XML_PARSE_NOENT (entities are not substituted), no XML_PARSE_DTDLOAD/DTDATTR/DTDVALID
     *  (no DTD is read), NONET (nothing is fetched), and no XML_PARSE_HUGE (libxml2's limits on
     *  depth and amplification stay on). */
    /*  UTF-8 only, whatever the document declares: the wire carries UTF-8, and libxml2's
     *  iconv conversions report their errors on stderr, outside the parser context. */
    xmlDocPtr doc = xmlCtxtReadMemory (ctxt, xml, (int) len, "domain.xml", "UTF-8",
                                       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
                                       | XML_PARSE_IGNORE_ENC);
    if (saw_doctype) {
        vb_error_set (err, VB_ERR_INVALID_XML,
                      "the domain XML has a <!DOCTYPE>, which is not allowed (no DTDs, no "
                      "entity declarations)");
        xmlFreeDoc (doc);
        doc = NULL;
    } else if (!doc || !ctxt->wellFormed) {
        const xmlError *xe = xmlCtxtGetLastError (ctxt);
        char detail[512] = "unknown parser error";
        if (xe && xe->message) {
            snprintf (detail, sizeof detail, "%s", xe->message);
            trim (detail);
        }
        vb_error_set (err, VB_ERR_INVALID_XML, "the domain XML is not well-formed: line %d: %s",
                      xe ? xe->line : 0, detail);
        xmlFreeDoc (doc);
        doc = NULL;
    }
    xmlFreeParserCtxt (ctxt);
    return doc;
}

/*  Drop the whitespace-only text nodes of elements that hold only markup (so the formatter can
 *  re-indent them); elements with real text keep every byte. */
static void
strip_format_blanks (xmlNodePtr node)
{
    bool markup = false, text = false;
    for (xmlNodePtr c = node->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            if (c->type == XML_CDATA_SECTION_NODE || !xmlIsBlankNode (c))
                text = true;
        } else {
            markup = true;
        }
    }
    xmlNodePtr c = node->children;
    while (c) {
        xmlNodePtr next = c->next;
        if (markup && !text && c->type == XML_TEXT_NODE) {
            xmlUnlinkNode (c);
            xmlFreeNode (c);
        } else if (c->type == XML_ELEMENT_NODE) {
            strip_format_blanks (c);
        }
        c = next;
    }
}

/*  Append a node's qualified name (prefix:name). */
static void
sb_qname (strbuf_t *sb, xmlNsPtr ns, const xmlChar *name)
{
    if (ns && ns->prefix) {
        sb_puts (sb, (const char *) ns->prefix);
        sb_puts (sb, ":");
    }
    sb_puts (sb, (const char *) name);
}

/*  Serialise NODE as libvirt writes XML: attributes in single quotes, children of markup-only
 *  elements one per line at 2 spaces per level; elements with text keep it byte for byte (and
 *  their subtree is not re-indented, as in libxml2's own formatter). */
static void
dump_node (strbuf_t *sb, xmlNodePtr node, int level, bool format)
{
    switch (node->type) {
    case XML_TEXT_NODE:
        if (node->content)
            sb_escape (sb, (const char *) node->content, false);
        return;
    case XML_CDATA_SECTION_NODE:
        sb_puts (sb, "<![CDATA[");
        if (node->content)
            sb_puts (sb, (const char *) node->content);
        sb_puts (sb, "]]>");
        return;
    case XML_COMMENT_NODE:
        sb_puts (sb, "<!--");
        if (node->content)
            sb_puts (sb, (const char *) node->content);
        sb_puts (sb, "-->");
        return;
    case XML_PI_NODE:
        sb_puts (sb, "<?");
        sb_puts (sb, (const char *) node->name);
        if (node->content && *node->content) {
            sb_puts (sb, " ");
            sb_puts (sb, (const char *) node->content);
        }
        sb_puts (sb, "?>");
        return;
    case XML_ELEMENT_NODE:
        break;
    default:
        return;
    }
    sb_puts (sb, "<");
    sb_qname (sb, node->ns, node->name);
    for (xmlNsPtr ns = node->nsDef; ns; ns = ns->next) {
        sb_puts (sb, ns->prefix ? " xmlns:" : " xmlns");
        if (ns->prefix)
            sb_puts (sb, (const char *) ns->prefix);
        sb_puts (sb, "='");
        sb_escape (sb, ns->href ? (const char *) ns->href : "", true);
        sb_puts (sb, "'");
    }
    for (xmlAttrPtr a = node->properties; a; a = a->next) {
        sb_puts (sb, " ");
        sb_qname (sb, a->ns, a->name);
        sb_puts (sb, "='");
        for (xmlNodePtr t = a->children; t; t = t->next)
            if (t->type == XML_TEXT_NODE && t->content)
                sb_escape (sb, (const char *) t->content, true);
        sb_puts (sb, "'");
    }
    if (!node->children) {
        sb_puts (sb, "/>");
        return;
    }
    for (xmlNodePtr c = node->children; format && c; c = c->next)
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE
            || c->type == XML_ENTITY_REF_NODE)
            format = false;
    sb_puts (sb, ">");
    for (xmlNodePtr c = node->children; c; c = c->next) {
        if (format) {
            sb_puts (sb, "\n");
            sb_indent (sb, level + 1);
        }
        dump_node (sb, c, level + 1, format);
    }
    if (format) {
        sb_puts (sb, "\n");
        sb_indent (sb, level);
    }
    sb_puts (sb, "</");
    sb_qname (sb, node->ns, node->name);
    sb_puts (sb, ">");
}

/*  Append NODE (an element the module does not model) to SB, serialised verbatim, indented for
 *  LEVEL. The node is copied into a scratch document first: the copy declares the namespaces
 *  it uses (so <qemu:commandline> stays valid on its own) and its formatting whitespace can be
 *  dropped, to be re-indented for its new place. */
static int
keep_unknown (strbuf_t *sb, xmlNodePtr node, int level, vb_error_t *err)
{
    xmlDocPtr scratch = xmlNewDoc (BAD_CAST "1.0");
    if (!scratch)
        return oom (err);
    xmlNodePtr copy = xmlDocCopyNode (node, scratch, 1);
    if (!copy) {
        xmlFreeDoc (scratch);
        return oom (err);
    }
    xmlDocSetRootElement (scratch, copy);
    strip_format_blanks (copy);
    sb_indent (sb, level);
    dump_node (sb, copy, level, true);
    sb_puts (sb, "\n");
    xmlFreeDoc (scratch);
    return sb->failed ? oom (err) : 0;
}

/*  *OUT = the kept elements of SB, NULL when none. */
static int
take_extra (strbuf_t *sb, char **out, vb_error_t *err)
{
    *out = NULL;
    if (sb->len == 0 && !sb->failed) {
        sb_reset (sb);
        return 0;
    }
    *out = sb_take (sb);
    return *out ? 0 : oom (err);
}

/*  Refuse a second occurrence of a singleton element: libvirt reads only the first, which would
 *  silently ignore the other. SEEN is the caller's flag for that element. */
static int
once (bool *seen, xmlNodePtr node, vb_error_t *err)
{
    if (*seen)
        return xml_fail (err, node, "the element appears more than once");
    *seen = true;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 *  Values.
 */

/*  libvirt's virScaleInteger suffixes: b/byte/bytes; k/K/KiB = 1024, KB = 1000, and so on up to
 *  E (case-insensitive, as libvirt); no unit = KiB. */
static bool
unit_scale (const char *unit, uint64_t *scale)
{
    if (!unit || !*unit) {
        *scale = 1024;
        return true;
    }
    if (strcasecmp (unit, "b") == 0 || strcasecmp (unit, "byte") == 0
        || strcasecmp (unit, "bytes") == 0) {
        *scale = 1;
        return true;
    }
    uint64_t base;
    if (unit[1] == '\0' || strcasecmp (unit + 1, "iB") == 0)
        base = 1024;
    else if (tolower ((unsigned char) unit[1]) == 'b' && unit[2] == '\0')
        base = 1000;
    else
        return false;
    const char *powers = "kmgtpe";
    const char *at = strchr (powers, tolower ((unsigned char) unit[0]));
    if (!at || unit[0] == '\0')
        return false;
    *scale = 1;
    for (const char *p = powers; p <= at; p++)
        *scale *= base;
    return true;
}

/*  <memory>/<currentMemory>: a positive size in KiB, rounded up from bytes as libvirt does,
 *  below libvirt's limit of 2^63 bytes. */
static int
parse_memory (xmlNodePtr node, uint64_t *kib, vb_error_t *err)
{
    const char *unit = attr_value (node, "unit");
    uint64_t scale, value;
    if (!unit_scale (unit, &scale))
        return xml_fail (err, node, "unit '" Q "' is not a size unit", unit);
    char *text = NULL;
    if (get_text (node, &text, err) < 0)
        return -1;
    bool ok = parse_u64 (text, &value);
    if (!ok) {
        xml_fail (err, node, "'" Q "' is not a non-negative integer", trim (text));
        free (text);
        return -1;
    }
    free (text);
    const uint64_t max_bytes = INT64_MAX;
    if (value > max_bytes / scale)
        return xml_fail (err, node, "%llu %s is too large", (unsigned long long) value,
                         unit ? unit : "KiB");
    uint64_t bytes = value * scale;
    *kib = bytes / 1024 + (bytes % 1024 != 0);
    if (*kib == 0)
        return xml_fail (err, node, "the size must be greater than 0");
    return 0;
}

/*  A UUID as libvirt reads it: 32 hex digits, dashes anywhere between byte pairs, surrounding
 *  spaces; not all bytes equal (libvirt refuses those). OUT gets the canonical lower-case form. */
static bool
parse_uuid (const char *text, char out[37])
{
    unsigned char bytes[16];
    const char *p = text;
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    for (int i = 0; i < 16; i++) {
        while (*p == '-')
            p++;
        if (!isxdigit ((unsigned char) p[0]) || !isxdigit ((unsigned char) p[1]))
            return false;
        char pair[3] = { p[0], p[1], '\0' };
        bytes[i] = (unsigned char) strtoul (pair, NULL, 16);
        p += 2;
    }
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    if (*p)
        return false;
    bool all_same = true;
    for (int i = 1; i < 16; i++)
        if (bytes[i] != bytes[0])
            all_same = false;
    if (all_same)
        return false;
    snprintf (out, 37,
              "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
              bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
              bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14],
              bytes[15]);
    return true;
}

/*  A MAC as libvirt's virMacAddrParse reads it (1-2 hex digits per byte, ':' between), unicast.
 *  OUT gets the canonical lower-case form. */
static bool
parse_mac (const char *text, char out[18], bool *multicast)
{
    unsigned char bytes[6];
    const char *p = text;
    for (int i = 0; i < 6; i++) {
        if (!isxdigit ((unsigned char) *p))
            return false;
        unsigned v = 0;
        int n = 0;
        while (isxdigit ((unsigned char) *p) && n < 3) {
            int c = tolower ((unsigned char) *p);
            v = v * 16 + (unsigned) (isdigit (c) ? c - '0' : c - 'a' + 10);
            p++;
            n++;
        }
        if (n > 2)
            return false;
        bytes[i] = (unsigned char) v;
        if (i < 5 && *p++ != ':')
            return false;
    }
    if (*p)
        return false;
    *multicast = bytes[0] & 1;
    snprintf (out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2], bytes[3],
              bytes[4], bytes[5]);
    return true;
}

static int
parse_lifecycle (xmlNodePtr node, bool crash, vb_lifecycle_action_t *out, vb_error_t *err)
{
    char *text = NULL;
    if (get_text (node, &text, err) < 0)
        return -1;
    int v = lookup (lifecycle_names, NELEMS (lifecycle_names), trim (text));
    /*  libvirt accepts the coredump actions only for on_crash. */
    if (v < 0 || (!crash && v >= VB_LIFECYCLE_COREDUMP_DESTROY)) {
        xml_fail (err, node, "'" Q "' is not an action (%s)", trim (text),
                  crash ? "destroy, restart, preserve, rename-restart, coredump-destroy, "
                          "coredump-restart"
                        : "destroy, restart, preserve, rename-restart");
        free (text);
        return -1;
    }
    free (text);
    *out = (vb_lifecycle_action_t) v;
    return 0;
}

/*  Grow an array of N elements of SIZE by one zeroed element. Returns the new array or NULL. */
static void *
grow (void *array, size_t n, size_t size)
{
    char *a = realloc (array, (n + 1) * size);
    if (a)
        memset (a + n * size, 0, size);
    return a;
}

/* ---------------------------------------------------------------------------------------------
 *  Freeing.
 */
void
vb_backing_store_free (vb_backing_store_t **bs_p)
{
    if (!bs_p)
        return;
    vb_backing_store_t *bs = *bs_p;
    while (bs) {
        vb_backing_store_t *next = bs->backing;
        free (bs->path);
        free (bs);
        bs = next;
    }
    *bs_p = NULL;
}

static void
disk_clear (vb_disk_def_t *d)
{
    free (d->driver_name);
    free (d->source);
    free (d->target_dev);
    free (d->serial);
    vb_backing_store_free (&d->backing);
    free (d->extra_xml);
    memset (d, 0, sizeof *d);
}

static void
net_clear (vb_net_def_t *n)
{
    free (n->mac);
    free (n->model);
    free (n->target_dev);
    free (n->extra_xml);
    memset (n, 0, sizeof *n);
}

static void
chr_clear (vb_chr_def_t *c)
{
    free (c->target_type);
    free (c->extra_xml);
    memset (c, 0, sizeof *c);
}

static void
hostdev_clear (vb_hostdev_def_t *h)
{
    free (h->block);
    free (h->extra_xml);
    memset (h, 0, sizeof *h);
}

static void
fs_clear (vb_fs_def_t *f)
{
    free (f->type);
    free (f->source);
    free (f->target);
    free (f->extra_xml);
    memset (f, 0, sizeof *f);
}

void
vb_domain_def_free (vb_domain_def_t **def_p)
{
    if (!def_p || !*def_p)
        return;
    vb_domain_def_t *def = *def_p;
    free (def->type);
    free (def->name);
    free (def->title);
    free (def->description);
    free (def->os_type);
    free (def->os_arch);
    free (def->os_machine);
    free (def->os_kernel);
    free (def->os_initrd);
    free (def->os_cmdline);
    free (def->os_init);
    if (def->os_initargs)
        for (char **a = def->os_initargs; *a; a++)
            free (*a);
    free (def->os_initargs);
    free (def->emulator);
    for (size_t i = 0; i < def->ndisks; i++)
        disk_clear (&def->disks[i]);
    free (def->disks);
    for (size_t i = 0; i < def->nnets; i++)
        net_clear (&def->nets[i]);
    free (def->nets);
    for (size_t i = 0; i < def->nchrs; i++)
        chr_clear (&def->chrs[i]);
    free (def->chrs);
    for (size_t i = 0; i < def->nfss; i++)
        fs_clear (&def->fss[i]);
    free (def->fss);
    for (size_t i = 0; i < def->nhostdevs; i++)
        hostdev_clear (&def->hostdevs[i]);
    free (def->hostdevs);
    free (def->extra_xml);
    free (def->extra_devices_xml);
    free (def->os_extra_xml);
    free (def);
    *def_p = NULL;
}

/* ---------------------------------------------------------------------------------------------
 *  Parsing devices.
 */

/*  The bus a target dev name implies, from its prefix (vd, sd, xvd) followed by 1-3 lower-case
 *  letters. Returns 0, or -1 with a reason in WHY. */
static int
bus_for_dev (const char *dev, vb_disk_bus_t *bus, const char **why)
{
    const char *rest;
    if (strncmp (dev, "vd", 2) == 0) {
        *bus = VB_DISK_BUS_VIRTIO;
        rest = dev + 2;
    } else if (strncmp (dev, "sd", 2) == 0) {
        *bus = VB_DISK_BUS_SCSI;
        rest = dev + 2;
    } else if (strncmp (dev, "xvd", 3) == 0) {
        *bus = VB_DISK_BUS_XEN;
        rest = dev + 3;
    } else if (strncmp (dev, "hd", 2) == 0) {
        *bus = VB_DISK_BUS_IDE;
        rest = dev + 2;
    } else {
        *why = "a disk name is vd*, sd*, xvd* or hd* followed by letters";
        return -1;
    }
    size_t n = strlen (rest);
    bool letters = n >= 1 && n <= 3;
    for (size_t i = 0; letters && i < n; i++)
        letters = rest[i] >= 'a' && rest[i] <= 'z';
    if (!letters) {
        *why = "a disk name is vd*, sd*, xvd* or hd* followed by 1 to 3 lower-case letters";
        return -1;
    }
    return 0;
}

static bool
bus_matches_dev (vb_disk_bus_t implied, vb_disk_bus_t bus)
{
    if (implied == VB_DISK_BUS_SCSI)
        return bus == VB_DISK_BUS_SCSI || bus == VB_DISK_BUS_SATA;
    return bus == implied;
}

/*  <source file=|dev=> of a disk or backing layer of TYPE. *PATH = NULL when the attribute is
 *  absent (an empty cdrom). */
static int
parse_source (xmlNodePtr node, vb_disk_type_t type, char **path, vb_error_t *err)
{
    const char *want = type == VB_DISK_TYPE_FILE ? "file" : "dev";
    const char *other = type == VB_DISK_TYPE_FILE ? "dev" : "file";
    if (!attr_value (node, want) && attr_value (node, other))
        return xml_fail (err, node, "a type='%s' disk takes %s=, not %s=",
                         disk_type_names[type], want, other);
    return get_path_attr (node, want, path, err);
}

static int
parse_disk_type (xmlNodePtr node, vb_disk_type_t *type, vb_error_t *err)
{
    const char *t = attr_value (node, "type");
    int v = t ? lookup (disk_type_names, NELEMS (disk_type_names), t) : VB_DISK_TYPE_FILE;
    if (v < 0)
        return xml_fail (err, node, "type '" Q "' is not supported (file, block)", t);
    *type = (vb_disk_type_t) v;
    return 0;
}

static int
parse_format_type (xmlNodePtr node, vb_disk_format_t *format, vb_error_t *err)
{
    const char *t = attr_value (node, "type");
    int v = t ? lookup (disk_format_names, NELEMS (disk_format_names), t) : VB_DISK_FORMAT_RAW;
    if (v < 0)
        return xml_fail (err, node, "disk format '" Q "' is not supported (raw, qcow2)", t);
    *format = (vb_disk_format_t) v;
    return 0;
}

/*  A <backingStore> chain starting at NODE. An empty <backingStore/> ends it. */
static int
parse_backing_chain (xmlNodePtr node, vb_backing_store_t **out, vb_error_t *err)
{
    vb_backing_store_t **link = out;
    unsigned depth = 1;
    while (node) {
        xmlNodePtr next = NULL;
        bool has_children = false;
        for (xmlNodePtr c = node->children; c; c = c->next)
            if (c->type == XML_ELEMENT_NODE)
                has_children = true;
        if (!has_children && !node->properties)
            break;
        if (depth > DOMXML_MAX_CHAIN)
            return xml_fail (err, node, "the backing chain is deeper than %d layers",
                             DOMXML_MAX_CHAIN);
        vb_backing_store_t *bs = calloc (1, sizeof *bs);
        if (!bs)
            return oom (err);
        *link = bs;
        link = &bs->backing;
        bs->index = depth;
        if (parse_disk_type (node, &bs->type, err) < 0)
            return -1;
        bool seen_format = false, seen_source = false, seen_next = false;
        for (xmlNodePtr c = node->children; c; c = c->next) {
            if (is_elem (c, "format")) {
                if (once (&seen_format, c, err) < 0 || parse_format_type (c, &bs->format, err) < 0)
                    return -1;
            } else if (is_elem (c, "source")) {
                if (once (&seen_source, c, err) < 0
                    || parse_source (c, bs->type, &bs->path, err) < 0)
                    return -1;
            } else if (is_elem (c, "backingStore")) {
                if (once (&seen_next, c, err) < 0)
                    return -1;
                next = c;
            }
        }
        if (!bs->path)
            return xml_fail (err, node, "backing layer %u has no <source %s=...>", depth,
                             bs->type == VB_DISK_TYPE_FILE ? "file" : "dev");
        node = next;
        depth++;
    }
    return 0;
}

static int
parse_disk (xmlNodePtr node, vb_disk_def_t *d, vb_error_t *err)
{
    strbuf_t extra = { 0 };
    int rc = -1;
    bool seen_driver = false, seen_source = false, seen_backing = false, seen_target = false,
         seen_serial = false;

    if (parse_disk_type (node, &d->type, err) < 0)
        goto cleanup;
    const char *device = attr_value (node, "device");
    int dv = device ? lookup (disk_device_names, NELEMS (disk_device_names), device)
                    : VB_DISK_DEVICE_DISK;
    if (dv < 0) {
        xml_fail (err, node, "device '" Q "' is not supported (disk, cdrom)", device);
        goto cleanup;
    }
    d->device = (vb_disk_device_t) dv;

    for (xmlNodePtr c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (is_elem (c, "driver")) {
            if (once (&seen_driver, c, err) < 0)
                goto cleanup;
            const char *name = attr_value (c, "name");
            if (name && !charset_ok (name, "_-", 32)) {
                xml_fail (err, c, "driver name '" Q "' is not a driver name", name);
                goto cleanup;
            }
            if (dup_str (name, &d->driver_name, err) < 0
                || parse_format_type (c, &d->format, err) < 0)
                goto cleanup;
        } else if (is_elem (c, "source")) {
            if (once (&seen_source, c, err) < 0 || parse_source (c, d->type, &d->source, err) < 0)
                goto cleanup;
        } else if (is_elem (c, "backingStore")) {
            if (once (&seen_backing, c, err) < 0 || parse_backing_chain (c, &d->backing, err) < 0)
                goto cleanup;
        } else if (is_elem (c, "target")) {
            if (once (&seen_target, c, err) < 0)
                goto cleanup;
            const char *dev = attr_value (c, "dev");
            if (!dev) {
                xml_fail (err, c, "the disk target has no dev=");
                goto cleanup;
            }
            vb_disk_bus_t implied;
            const char *why = NULL;
            if (bus_for_dev (dev, &implied, &why) < 0) {
                xml_fail (err, c, "dev '" Q "' is not a disk name: %s", dev, why);
                goto cleanup;
            }
            d->bus = implied;
            const char *bus = attr_value (c, "bus");
            if (bus) {
                int bv = lookup (disk_bus_names, NELEMS (disk_bus_names), bus);
                if (bv < 0) {
                    xml_fail (err, c, "bus '" Q "' is not supported (virtio, sata, scsi, xen, "
                              "ide)", bus);
                    goto cleanup;
                }
                if (!bus_matches_dev (implied, (vb_disk_bus_t) bv)) {
                    static const char *const prefixes[] = { "vd", "sd", "sd", "xvd", "hd" };
                    xml_fail (err, c, "dev '" Q "' does not match bus '%s' (%s* disks are on %s)",
                              dev, bus, prefixes[implied], implied == VB_DISK_BUS_SCSI
                              ? "sata or scsi" : disk_bus_names[implied]);
                    goto cleanup;
                }
                d->bus = (vb_disk_bus_t) bv;
            }
            if (dup_str (dev, &d->target_dev, err) < 0)
                goto cleanup;
        } else if (is_elem (c, "readonly")) {
            d->readonly = true;
        } else if (is_elem (c, "serial")) {
            if (once (&seen_serial, c, err) < 0 || get_text (c, &d->serial, err) < 0)
                goto cleanup;
            /*  libvirt's set: the serial ends up inside QEMU's -device option string. */
            if (!charset_ok (d->serial, "_ .+-", 64)) {
                xml_fail (err, c, "serial '" Q "' is empty, too long or has characters outside "
                          "[A-Za-z0-9_ .+-]", d->serial);
                goto cleanup;
            }
        } else if (keep_unknown (&extra, c, 3, err) < 0) {
            goto cleanup;
        }
    }
    if (!d->target_dev) {
        xml_fail (err, node, "the disk has no <target dev=...>");
        goto cleanup;
    }
    if (!d->source && d->device == VB_DISK_DEVICE_DISK) {
        xml_fail (err, node, "disk '" Q "' has no <source %s=...> (only a cdrom may be empty)",
                  d->target_dev, d->type == VB_DISK_TYPE_FILE ? "file" : "dev");
        goto cleanup;
    }
    if (d->backing && !d->source) {
        xml_fail (err, node, "disk '" Q "' has a <backingStore> but no <source>", d->target_dev);
        goto cleanup;
    }
    if (d->device == VB_DISK_DEVICE_CDROM)
        d->readonly = true;
    rc = take_extra (&extra, &d->extra_xml, err);
cleanup:
    sb_reset (&extra);
    return rc;
}

static int
parse_interface (xmlNodePtr node, vb_net_def_t *n, vb_error_t *err)
{
    strbuf_t extra = { 0 };
    int rc = -1;
    bool seen_mac = false, seen_model = false, seen_target = false;
    const char *type = attr_value (node, "type");
    int tv = lookup (net_type_names, NELEMS (net_type_names), type);
    if (tv < 0) {
        xml_fail (err, node, "type '" Q "' is not supported (user, ethernet)", type ? type : "");
        goto cleanup;
    }
    n->type = (vb_net_type_t) tv;
    for (xmlNodePtr c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (is_elem (c, "mac")) {
            if (once (&seen_mac, c, err) < 0)
                goto cleanup;
            const char *addr = attr_value (c, "address");
            char mac[18];
            bool multicast = false;
            if (!addr || !parse_mac (addr, mac, &multicast)) {
                xml_fail (err, c, "address '" Q "' is not a MAC address", addr ? addr : "");
                goto cleanup;
            }
            if (multicast) {
                xml_fail (err, c, "address '" Q "' is a multicast MAC address; a NIC needs a "
                          "unicast one", addr);
                goto cleanup;
            }
            if (dup_str (mac, &n->mac, err) < 0)
                goto cleanup;
        } else if (is_elem (c, "model")) {
            if (once (&seen_model, c, err) < 0)
                goto cleanup;
            const char *model = attr_value (c, "type");
            if (!model || !charset_ok (model, "_-", 32)) {
                xml_fail (err, c, "type '" Q "' is not a NIC model name", model ? model : "");
                goto cleanup;
            }
            if (dup_str (model, &n->model, err) < 0)
                goto cleanup;
        } else if (is_elem (c, "target")) {
            if (once (&seen_target, c, err) < 0)
                goto cleanup;
            const char *dev = attr_value (c, "dev");
            /*  A Linux interface name: IFNAMSIZ - 1 bytes, no '/', ':' or whitespace. */
            if (!dev || !charset_ok (dev, "_.-", 15) || strcmp (dev, ".") == 0
                || strcmp (dev, "..") == 0) {
                xml_fail (err, c, "dev '" Q "' is not a host interface name (1-15 of "
                          "[A-Za-z0-9_.-])", dev ? dev : "");
                goto cleanup;
            }
            if (dup_str (dev, &n->target_dev, err) < 0)
                goto cleanup;
        } else if (keep_unknown (&extra, c, 3, err) < 0) {
            goto cleanup;
        }
    }
    rc = take_extra (&extra, &n->extra_xml, err);
cleanup:
    sb_reset (&extra);
    return rc;
}

static int
parse_chr (xmlNodePtr node, vb_chr_kind_t kind, vb_chr_def_t *chr, vb_error_t *err)
{
    strbuf_t extra = { 0 };
    int rc = -1;
    bool seen_target = false;
    chr->kind = kind;
    chr->port = -1;
    const char *type = attr_value (node, "type");
    if (!type || strcmp (type, "pty") != 0) {
        xml_fail (err, node, "type '" Q "' is not supported (pty)", type ? type : "");
        goto cleanup;
    }
    for (xmlNodePtr c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (is_elem (c, "target")) {
            if (once (&seen_target, c, err) < 0)
                goto cleanup;
            const char *ttype = attr_value (c, "type");
            if (ttype && !charset_ok (ttype, "_-", 32)) {
                xml_fail (err, c, "type '" Q "' is not a target type", ttype);
                goto cleanup;
            }
            if (dup_str (ttype, &chr->target_type, err) < 0)
                goto cleanup;
            const char *port = attr_value (c, "port");
            uint64_t pv;
            if (port) {
                if (!parse_u64 (port, &pv) || pv > 65535) {
                    xml_fail (err, c, "port '" Q "' is not a number from 0 to 65535", port);
                    goto cleanup;
                }
                chr->port = (int) pv;
            }
        } else if (keep_unknown (&extra, c, 3, err) < 0) {
            goto cleanup;
        }
    }
    rc = take_extra (&extra, &chr->extra_xml, err);
cleanup:
    sb_reset (&extra);
    return rc;
}

static int
parse_filesystem (xmlNodePtr node, bool container, vb_fs_def_t *fs, vb_error_t *err)
{
    strbuf_t extra = { 0 };
    int rc = -1;
    bool seen_source = false, seen_target = false;
    const char *type = attr_value (node, "type");
    if (type && strcmp (type, "mount") != 0) {
        xml_fail (err, node, "type '" Q "' is not supported (mount)", type);
        goto cleanup;
    }
    if (dup_str ("mount", &fs->type, err) < 0)
        goto cleanup;
    for (xmlNodePtr c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (is_elem (c, "source")) {
            if (once (&seen_source, c, err) < 0 || get_path_attr (c, "dir", &fs->source, err) < 0)
                goto cleanup;
            if (!fs->source) {
                xml_fail (err, c, "the filesystem source has no dir=");
                goto cleanup;
            }
        } else if (is_elem (c, "target")) {
            if (once (&seen_target, c, err) < 0)
                goto cleanup;
            /*  A container mounts at a path; a VM's target dir is a mount tag (virtiofs, 9p). */
            const char *dir = attr_value (c, "dir");
            if (dir && container && !path_ok (dir)) {
                xml_fail (err, c, "dir '" Q "' is not an absolute path", dir);
                goto cleanup;
            }
            if (dir && !container && !charset_ok (dir, "_.-/", 255)) {
                xml_fail (err, c, "dir '" Q "' is not a mount tag", dir);
                goto cleanup;
            }
            if (dup_str (dir, &fs->target, err) < 0)
                goto cleanup;
        } else if (is_elem (c, "readonly")) {
            fs->readonly = true;
        } else if (keep_unknown (&extra, c, 3, err) < 0) {
            goto cleanup;
        }
    }
    if (!fs->target) {
        xml_fail (err, node, "the filesystem has no <target dir=...>");
        goto cleanup;
    }
    rc = take_extra (&extra, &fs->extra_xml, err);
cleanup:
    sb_reset (&extra);
    return rc;
}

/*  Is NODE a <hostdev> this module models (mode='capabilities' type='storage')? */
static bool
is_storage_hostdev (xmlNodePtr node)
{
    const char *mode = attr_value (node, "mode"), *type = attr_value (node, "type");
    return is_elem (node, "hostdev") && mode && type && strcmp (mode, "capabilities") == 0
           && strcmp (type, "storage") == 0;
}

static int
parse_hostdev (xmlNodePtr node, vb_hostdev_def_t *h, vb_error_t *err)
{
    strbuf_t extra = { 0 };
    int rc = -1;
    bool seen_source = false;
    for (xmlNodePtr c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (is_elem (c, "source")) {
            if (once (&seen_source, c, err) < 0)
                goto cleanup;
            bool seen_block = false;
            for (xmlNodePtr b = c->children; b; b = b->next) {
                if (b->type != XML_ELEMENT_NODE)
                    continue;
                if (!is_elem (b, "block")) {
                    xml_fail (err, b, "a storage hostdev source holds only <block>");
                    goto cleanup;
                }
                if (once (&seen_block, b, err) < 0 || get_path_text (b, &h->block, err) < 0)
                    goto cleanup;
            }
        } else if (keep_unknown (&extra, c, 3, err) < 0) {
            goto cleanup;
        }
    }
    if (!h->block) {
        xml_fail (err, node, "the storage hostdev has no <source><block>");
        goto cleanup;
    }
    rc = take_extra (&extra, &h->extra_xml, err);
cleanup:
    sb_reset (&extra);
    return rc;
}

/*  Append one parsed element to an array: parse into a zeroed local, then move it in, so a
 *  failure leaves the array as it was. */
#define APPEND_PARSED(array, count, type_t, clear, call)                                      \
    do {                                                                                      \
        type_t item_;                                                                         \
        memset (&item_, 0, sizeof item_);                                                     \
        if ((call) < 0) {                                                                     \
            clear (&item_);                                                                   \
            goto cleanup;                                                                     \
        }                                                                                     \
        type_t *grown_ = grow ((array), (count), sizeof (type_t));                            \
        if (!grown_) {                                                                        \
            clear (&item_);                                                                   \
            oom (err);                                                                        \
            goto cleanup;                                                                     \
        }                                                                                     \
        (array) = grown_;                                                                     \
        (array)[(count)++] = item_;                                                           \
    } while (0)

static int
parse_devices (xmlNodePtr node, vb_domain_def_t *def, vb_error_t *err)
{
    strbuf_t extra = { 0 };
    int rc = -1;
    bool seen_emulator = false;
    for (xmlNodePtr c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (is_elem (c, "emulator")) {
            if (once (&seen_emulator, c, err) < 0 || get_path_text (c, &def->emulator, err) < 0)
                goto cleanup;
        } else if (is_elem (c, "disk")) {
            APPEND_PARSED (def->disks, def->ndisks, vb_disk_def_t, disk_clear,
                           parse_disk (c, &item_, err));
            const char *added = def->disks[def->ndisks - 1].target_dev;
            for (size_t i = 0; i + 1 < def->ndisks; i++)
                if (strcmp (def->disks[i].target_dev, added) == 0) {
                    xml_fail (err, c, "target dev '" Q "' is used by another disk", added);
                    goto cleanup;
                }
        } else if (is_elem (c, "interface")) {
            APPEND_PARSED (def->nets, def->nnets, vb_net_def_t, net_clear,
                           parse_interface (c, &item_, err));
        } else if (is_elem (c, "serial")) {
            APPEND_PARSED (def->chrs, def->nchrs, vb_chr_def_t, chr_clear,
                           parse_chr (c, VB_CHR_SERIAL, &item_, err));
        } else if (is_elem (c, "console")) {
            APPEND_PARSED (def->chrs, def->nchrs, vb_chr_def_t, chr_clear,
                           parse_chr (c, VB_CHR_CONSOLE, &item_, err));
        } else if (is_elem (c, "filesystem")) {
            APPEND_PARSED (def->fss, def->nfss, vb_fs_def_t, fs_clear,
                           parse_filesystem (c, strcmp (def->type, "lxc") == 0, &item_, err));
            for (size_t i = 0; i + 1 < def->nfss; i++)
                if (strcmp (def->fss[i].target, def->fss[def->nfss - 1].target) == 0) {
                    xml_fail (err, c, "target dir '" Q "' is used by another filesystem",
                              def->fss[i].target);
                    goto cleanup;
                }
        } else if (is_storage_hostdev (c)) {
            APPEND_PARSED (def->hostdevs, def->nhostdevs, vb_hostdev_def_t, hostdev_clear,
                           parse_hostdev (c, &item_, err));
            for (size_t i = 0; i + 1 < def->nhostdevs; i++)
                if (strcmp (def->hostdevs[i].block,
                            def->hostdevs[def->nhostdevs - 1].block) == 0) {
                    xml_fail (err, c, "block '" Q "' is used by another hostdev",
                              def->hostdevs[i].block);
                    goto cleanup;
                }
        } else if (keep_unknown (&extra, c, 2, err) < 0) {
            goto cleanup;
        }
    }
    /*  Format writes serials before consoles, so order them that way now (stably): a round trip
     *  must give an equal definition. */
    for (size_t i = 1; i < def->nchrs; i++) {
        for (size_t j = i; j > 0 && def->chrs[j - 1].kind > def->chrs[j].kind; j--) {
            vb_chr_def_t tmp = def->chrs[j];
            def->chrs[j] = def->chrs[j - 1];
            def->chrs[j - 1] = tmp;
        }
    }
    rc = take_extra (&extra, &def->extra_devices_xml, err);
cleanup:
    sb_reset (&extra);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 *  Parsing the domain.
 */
static int
parse_os (xmlNodePtr node, vb_domain_def_t *def, vb_error_t *err)
{
    strbuf_t extra = { 0 };
    int rc = -1;
    bool seen_type = false, seen_kernel = false, seen_initrd = false, seen_cmdline = false,
         seen_init = false;
    size_t ninitargs = 0;
    for (xmlNodePtr c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (is_elem (c, "type")) {
            if (once (&seen_type, c, err) < 0 || get_text (c, &def->os_type, err) < 0)
                goto cleanup;
            trim (def->os_type);
            const char *arch = attr_value (c, "arch");
            const char *machine = attr_value (c, "machine");
            /*  Both end up in QEMU's argv: no commas, no spaces. */
            if (arch && !charset_ok (arch, "_", 32)) {
                xml_fail (err, c, "arch '" Q "' is not an architecture name", arch);
                goto cleanup;
            }
            if (machine && !charset_ok (machine, "_.-", 64)) {
                xml_fail (err, c, "machine '" Q "' is not a machine type name", machine);
                goto cleanup;
            }
            if (dup_str (arch, &def->os_arch, err) < 0
                || dup_str (machine, &def->os_machine, err) < 0)
                goto cleanup;
        } else if (is_elem (c, "kernel")) {
            if (once (&seen_kernel, c, err) < 0 || get_path_text (c, &def->os_kernel, err) < 0)
                goto cleanup;
        } else if (is_elem (c, "initrd")) {
            if (once (&seen_initrd, c, err) < 0 || get_path_text (c, &def->os_initrd, err) < 0)
                goto cleanup;
        } else if (is_elem (c, "cmdline")) {
            if (once (&seen_cmdline, c, err) < 0 || get_text (c, &def->os_cmdline, err) < 0)
                goto cleanup;
        } else if (is_elem (c, "init")) {
            if (once (&seen_init, c, err) < 0 || get_path_text (c, &def->os_init, err) < 0)
                goto cleanup;
        } else if (is_elem (c, "initarg")) {
            char **args = realloc (def->os_initargs, (ninitargs + 2) * sizeof *args);
            if (!args) {
                oom (err);
                goto cleanup;
            }
            def->os_initargs = args;
            args[ninitargs] = NULL;
            args[ninitargs + 1] = NULL;
            if (get_text (c, &args[ninitargs], err) < 0)
                goto cleanup;
            ninitargs++;
        } else if (keep_unknown (&extra, c, 2, err) < 0) {
            goto cleanup;
        }
    }
    if (!def->os_type) {
        xml_fail (err, node, "the os has no <type> (hvm, exe, linux or xen)");
        goto cleanup;
    }
    rc = take_extra (&extra, &def->os_extra_xml, err);
cleanup:
    sb_reset (&extra);
    return rc;
}

/*  The os types each domain type runs, as libvirt's drivers accept them. */
static bool
os_type_fits (const char *domain_type, const char *os_type)
{
    if (strcmp (domain_type, "kvm") == 0 || strcmp (domain_type, "qemu") == 0)
        return strcmp (os_type, "hvm") == 0;
    if (strcmp (domain_type, "lxc") == 0)
        return strcmp (os_type, "exe") == 0;
    if (strcmp (domain_type, "xen") == 0)
        return strcmp (os_type, "hvm") == 0 || strcmp (os_type, "linux") == 0
               || strcmp (os_type, "xen") == 0;
    return strcmp (os_type, "hvm") == 0 || strcmp (os_type, "linux") == 0
           || strcmp (os_type, "xen") == 0 || strcmp (os_type, "exe") == 0;
}

static int
parse_domain (xmlNodePtr root, vb_domain_def_t *def, vb_error_t *err)
{
    strbuf_t extra = { 0 };
    int rc = -1;
    bool seen_name = false, seen_uuid = false, seen_title = false, seen_desc = false,
         seen_mem = false, seen_cur = false, seen_vcpu = false, seen_os = false,
         seen_poweroff = false, seen_reboot = false, seen_crash = false, seen_devices = false;
    xmlNodePtr os_node = NULL, cur_node = NULL;

    if (!is_elem (root, "domain")) {
        vb_error_set (err, VB_ERR_INVALID_XML,
                      "the root element is <%.64s>, not <domain> (line %ld)",
                      (const char *) root->name, xmlGetLineNo (root));
        goto cleanup;
    }
    const char *type = attr_value (root, "type");
    if (lookup (domain_types, NELEMS (domain_types), type) < 0) {
        xml_fail (err, root, "type '" Q "' is not a domain type (kvm, qemu, lxc, xen, test)",
                  type ? type : "");
        goto cleanup;
    }
    if (dup_str (type, &def->type, err) < 0)
        goto cleanup;
    def->vcpus = 1;
    def->on_poweroff = VB_LIFECYCLE_DESTROY;
    def->on_reboot = VB_LIFECYCLE_RESTART;
    def->on_crash = VB_LIFECYCLE_DESTROY;

    for (xmlNodePtr c = root->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (is_elem (c, "name")) {
            if (once (&seen_name, c, err) < 0 || get_text (c, &def->name, err) < 0)
                goto cleanup;
            if (!vb_name_is_valid (def->name)) {
                xml_fail (err, c, "'" Q "' is not a valid domain name (1-64 of [A-Za-z0-9_.+-], "
                          "not starting with '.' or '-')", def->name);
                goto cleanup;
            }
        } else if (is_elem (c, "uuid")) {
            char *text = NULL;
            if (once (&seen_uuid, c, err) < 0 || get_text (c, &text, err) < 0)
                goto cleanup;
            bool ok = parse_uuid (text, def->uuid);
            if (!ok)
                xml_fail (err, c, "'" Q "' is not a valid UUID", trim (text));
            free (text);
            if (!ok)
                goto cleanup;
        } else if (is_elem (c, "title")) {
            if (once (&seen_title, c, err) < 0 || get_text (c, &def->title, err) < 0)
                goto cleanup;
            if (strchr (def->title, '\n')) {
                xml_fail (err, c, "a title must be a single line");
                goto cleanup;
            }
        } else if (is_elem (c, "description")) {
            if (once (&seen_desc, c, err) < 0 || get_text (c, &def->description, err) < 0)
                goto cleanup;
        } else if (is_elem (c, "memory")) {
            if (once (&seen_mem, c, err) < 0 || parse_memory (c, &def->memory_kib, err) < 0)
                goto cleanup;
        } else if (is_elem (c, "currentMemory")) {
            cur_node = c;
            if (once (&seen_cur, c, err) < 0
                || parse_memory (c, &def->current_memory_kib, err) < 0)
                goto cleanup;
        } else if (is_elem (c, "vcpu")) {
            char *text = NULL;
            uint64_t n = 0;
            if (once (&seen_vcpu, c, err) < 0 || get_text (c, &text, err) < 0)
                goto cleanup;
            bool ok = parse_u64 (text, &n) && n >= 1 && n <= DOMXML_MAX_VCPUS;
            if (!ok)
                xml_fail (err, c, "'" Q "' is not a vCPU count from 1 to %d", trim (text),
                          DOMXML_MAX_VCPUS);
            free (text);
            if (!ok)
                goto cleanup;
            def->vcpus = (unsigned) n;
        } else if (is_elem (c, "os")) {
            os_node = c;
            if (once (&seen_os, c, err) < 0 || parse_os (c, def, err) < 0)
                goto cleanup;
        } else if (is_elem (c, "on_poweroff")) {
            if (once (&seen_poweroff, c, err) < 0
                || parse_lifecycle (c, false, &def->on_poweroff, err) < 0)
                goto cleanup;
        } else if (is_elem (c, "on_reboot")) {
            if (once (&seen_reboot, c, err) < 0
                || parse_lifecycle (c, false, &def->on_reboot, err) < 0)
                goto cleanup;
        } else if (is_elem (c, "on_crash")) {
            if (once (&seen_crash, c, err) < 0
                || parse_lifecycle (c, true, &def->on_crash, err) < 0)
                goto cleanup;
        } else if (is_elem (c, "devices")) {
            if (once (&seen_devices, c, err) < 0 || parse_devices (c, def, err) < 0)
                goto cleanup;
        } else if (keep_unknown (&extra, c, 1, err) < 0) {
            goto cleanup;
        }
    }

    if (!def->name) {
        xml_fail (err, root, "the domain has no <name>");
        goto cleanup;
    }
    if (!seen_mem) {
        xml_fail (err, root, "domain '%s' has no <memory>", def->name);
        goto cleanup;
    }
    if (!seen_cur) {
        def->current_memory_kib = def->memory_kib;
    } else if (def->current_memory_kib > def->memory_kib) {
        xml_fail (err, cur_node, "%llu KiB is more than <memory> (%llu KiB)",
                  (unsigned long long) def->current_memory_kib,
                  (unsigned long long) def->memory_kib);
        goto cleanup;
    }
    if (!os_node) {
        xml_fail (err, root, "domain '%s' has no <os><type>...</type></os>", def->name);
        goto cleanup;
    }
    if (!os_type_fits (def->type, def->os_type)) {
        xml_fail (err, os_node, "os type '" Q "' does not fit a type='%s' domain", def->os_type,
                  def->type);
        goto cleanup;
    }
    if (!seen_uuid)
        vb_uuid_generate (def->uuid);
    rc = take_extra (&extra, &def->extra_xml, err);
cleanup:
    sb_reset (&extra);
    return rc;
}

vb_domain_def_t *
vb_domxml_parse (const char *xml, size_t len, vb_error_t *err)
{
    vb_domain_def_t *def = NULL;
    xmlDocPtr doc = read_doc (xml, len, err);
    if (!doc)
        return NULL;
    xmlNodePtr root = xmlDocGetRootElement (doc);
    if (!root) {
        vb_error_set (err, VB_ERR_INVALID_XML, "the domain XML has no root element");
        goto cleanup;
    }
    def = calloc (1, sizeof *def);
    if (!def) {
        oom (err);
        goto cleanup;
    }
    if (parse_domain (root, def, err) < 0)
        vb_domain_def_free (&def);
cleanup:
    xmlFreeDoc (doc);
    return def;
}

char *
vb_domxml_peek_type (const char *xml, size_t len, vb_error_t *err)
{
    char *type = NULL;
    xmlDocPtr doc = read_doc (xml, len, err);
    if (!doc)
        return NULL;
    xmlNodePtr root = xmlDocGetRootElement (doc);
    if (!root || !is_elem (root, "domain")) {
        vb_error_set (err, VB_ERR_INVALID_XML, "the root element is <%.64s>, not <domain>",
                      root ? (const char *) root->name : "");
        goto cleanup;
    }
    const char *t = attr_value (root, "type");
    /*  Any well-formed type name is returned, so the caller can say which type has no driver. */
    if (!t || !charset_ok (t, "_-", 32)) {
        xml_fail (err, root, "type '" Q "' is not a domain type (kvm, qemu, lxc, xen, test)",
                  t ? t : "");
        goto cleanup;
    }
    type = strdup (t);
    if (!type)
        oom (err);
cleanup:
    xmlFreeDoc (doc);
    return type;
}

const char *
vb_domxml_driver_for_type (const char *type)
{
    if (!type)
        return NULL;
    if (strcmp (type, "kvm") == 0 || strcmp (type, "qemu") == 0)
        return "qemu";
    if (strcmp (type, "lxc") == 0)
        return "lxc";
    if (strcmp (type, "xen") == 0)
        return "xen";
    if (strcmp (type, "test") == 0)
        return "test";
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 *  Formatting.
 */
static const char *
name_of (const char *const *names, size_t n, int v)
{
    return v >= 0 && (size_t) v < n ? names[v] : names[0];
}

static void
format_backing (strbuf_t *sb, const vb_backing_store_t *bs, int level)
{
    int depth = 0;
    for (; bs; bs = bs->backing, depth++) {
        sb_indent (sb, level + depth);
        sb_printf (sb, "<backingStore type='%s' index='%u'>\n",
                   name_of (disk_type_names, NELEMS (disk_type_names), (int) bs->type), bs->index);
        sb_indent (sb, level + depth + 1);
        sb_printf (sb, "<format type='%s'/>\n",
                   name_of (disk_format_names, NELEMS (disk_format_names), (int) bs->format));
        sb_indent (sb, level + depth + 1);
        sb_puts (sb, "<source");
        sb_attr (sb, bs->type == VB_DISK_TYPE_BLOCK ? "dev" : "file", bs->path);
        sb_puts (sb, "/>\n");
    }
    /*  libvirt ends a known chain with an empty element: the bottom layer has no backing. */
    sb_indent (sb, level + depth);
    sb_puts (sb, "<backingStore/>\n");
    for (depth--; depth >= 0; depth--) {
        sb_indent (sb, level + depth);
        sb_puts (sb, "</backingStore>\n");
    }
}

static void
format_disk (strbuf_t *sb, const vb_disk_def_t *d)
{
    sb_indent (sb, 2);
    sb_printf (sb, "<disk type='%s' device='%s'>\n",
               name_of (disk_type_names, NELEMS (disk_type_names), (int) d->type),
               name_of (disk_device_names, NELEMS (disk_device_names), (int) d->device));
    sb_indent (sb, 3);
    sb_puts (sb, "<driver");
    sb_attr (sb, "name", d->driver_name);
    sb_attr (sb, "type", name_of (disk_format_names, NELEMS (disk_format_names),
                                  (int) d->format));
    sb_puts (sb, "/>\n");
    if (d->source) {
        sb_indent (sb, 3);
        sb_puts (sb, "<source");
        sb_attr (sb, d->type == VB_DISK_TYPE_BLOCK ? "dev" : "file", d->source);
        sb_puts (sb, "/>\n");
        if (d->backing)
            format_backing (sb, d->backing, 3);
    }
    sb_indent (sb, 3);
    sb_puts (sb, "<target");
    sb_attr (sb, "dev", d->target_dev);
    sb_attr (sb, "bus", name_of (disk_bus_names, NELEMS (disk_bus_names), (int) d->bus));
    sb_puts (sb, "/>\n");
    if (d->readonly || d->device == VB_DISK_DEVICE_CDROM) {
        sb_indent (sb, 3);
        sb_puts (sb, "<readonly/>\n");
    }
    sb_text_element (sb, 3, "serial", d->serial);
    sb_extra (sb, d->extra_xml);
    sb_indent (sb, 2);
    sb_puts (sb, "</disk>\n");
}

static void
format_filesystem (strbuf_t *sb, const vb_fs_def_t *fs)
{
    sb_indent (sb, 2);
    sb_puts (sb, "<filesystem");
    sb_attr (sb, "type", fs->type ? fs->type : "mount");
    sb_puts (sb, " accessmode='passthrough'>\n");
    if (fs->source) {
        sb_indent (sb, 3);
        sb_puts (sb, "<source");
        sb_attr (sb, "dir", fs->source);
        sb_puts (sb, "/>\n");
    }
    sb_indent (sb, 3);
    sb_puts (sb, "<target");
    sb_attr (sb, "dir", fs->target);
    sb_puts (sb, "/>\n");
    if (fs->readonly) {
        sb_indent (sb, 3);
        sb_puts (sb, "<readonly/>\n");
    }
    sb_extra (sb, fs->extra_xml);
    sb_indent (sb, 2);
    sb_puts (sb, "</filesystem>\n");
}

static void
format_hostdev (strbuf_t *sb, const vb_hostdev_def_t *h)
{
    sb_indent (sb, 2);
    sb_puts (sb, "<hostdev mode='capabilities' type='storage'>\n");
    sb_indent (sb, 3);
    sb_puts (sb, "<source>\n");
    sb_text_element (sb, 4, "block", h->block);
    sb_indent (sb, 3);
    sb_puts (sb, "</source>\n");
    sb_extra (sb, h->extra_xml);
    sb_indent (sb, 2);
    sb_puts (sb, "</hostdev>\n");
}

static void
format_interface (strbuf_t *sb, const vb_net_def_t *n)
{
    sb_indent (sb, 2);
    sb_printf (sb, "<interface type='%s'>\n",
               name_of (net_type_names, NELEMS (net_type_names), (int) n->type));
    if (n->mac) {
        sb_indent (sb, 3);
        sb_puts (sb, "<mac");
        sb_attr (sb, "address", n->mac);
        sb_puts (sb, "/>\n");
    }
    if (n->target_dev) {
        sb_indent (sb, 3);
        sb_puts (sb, "<target");
        sb_attr (sb, "dev", n->target_dev);
        sb_puts (sb, "/>\n");
    }
    if (n->model) {
        sb_indent (sb, 3);
        sb_puts (sb, "<model");
        sb_attr (sb, "type", n->model);
        sb_puts (sb, "/>\n");
    }
    sb_extra (sb, n->extra_xml);
    sb_indent (sb, 2);
    sb_puts (sb, "</interface>\n");
}

static void
format_chr (strbuf_t *sb, const vb_chr_def_t *chr)
{
    const char *kind = name_of (chr_kind_names, NELEMS (chr_kind_names), (int) chr->kind);
    sb_indent (sb, 2);
    sb_printf (sb, "<%s type='pty'>\n", kind);
    if (chr->target_type || chr->port >= 0) {
        sb_indent (sb, 3);
        sb_puts (sb, "<target");
        sb_attr (sb, "type", chr->target_type);
        if (chr->port >= 0)
            sb_printf (sb, " port='%d'", chr->port);
        sb_puts (sb, "/>\n");
    }
    sb_extra (sb, chr->extra_xml);
    sb_indent (sb, 2);
    sb_printf (sb, "</%s>\n", kind);
}

char *
vb_domxml_format (const vb_domain_def_t *def)
{
    if (!def)
        return NULL;
    strbuf_t sb = { 0 };
    sb_puts (&sb, "<domain");
    sb_attr (&sb, "type", def->type);
    sb_puts (&sb, ">\n");
    sb_text_element (&sb, 1, "name", def->name);
    if (def->uuid[0])
        sb_text_element (&sb, 1, "uuid", def->uuid);
    sb_text_element (&sb, 1, "title", def->title);
    sb_text_element (&sb, 1, "description", def->description);
    sb_indent (&sb, 1);
    sb_printf (&sb, "<memory unit='KiB'>%llu</memory>\n", (unsigned long long) def->memory_kib);
    sb_indent (&sb, 1);
    sb_printf (&sb, "<currentMemory unit='KiB'>%llu</currentMemory>\n",
               (unsigned long long) (def->current_memory_kib ? def->current_memory_kib
                                                             : def->memory_kib));
    sb_indent (&sb, 1);
    sb_printf (&sb, "<vcpu placement='static'>%u</vcpu>\n", def->vcpus ? def->vcpus : 1);

    sb_indent (&sb, 1);
    sb_puts (&sb, "<os>\n");
    sb_indent (&sb, 2);
    sb_puts (&sb, "<type");
    sb_attr (&sb, "arch", def->os_arch);
    sb_attr (&sb, "machine", def->os_machine);
    sb_puts (&sb, ">");
    sb_escape (&sb, def->os_type ? def->os_type : "hvm", false);
    sb_puts (&sb, "</type>\n");
    sb_text_element (&sb, 2, "kernel", def->os_kernel);
    sb_text_element (&sb, 2, "initrd", def->os_initrd);
    sb_text_element (&sb, 2, "cmdline", def->os_cmdline);
    sb_text_element (&sb, 2, "init", def->os_init);
    if (def->os_initargs)
        for (char **a = def->os_initargs; *a; a++)
            sb_text_element (&sb, 2, "initarg", *a);
    sb_extra (&sb, def->os_extra_xml);
    sb_indent (&sb, 1);
    sb_puts (&sb, "</os>\n");

    sb_extra (&sb, def->extra_xml);
    sb_text_element (&sb, 1, "on_poweroff",
                     name_of (lifecycle_names, NELEMS (lifecycle_names), (int) def->on_poweroff));
    sb_text_element (&sb, 1, "on_reboot",
                     name_of (lifecycle_names, NELEMS (lifecycle_names), (int) def->on_reboot));
    sb_text_element (&sb, 1, "on_crash",
                     name_of (lifecycle_names, NELEMS (lifecycle_names), (int) def->on_crash));

    sb_indent (&sb, 1);
    sb_puts (&sb, "<devices>\n");
    sb_text_element (&sb, 2, "emulator", def->emulator);
    for (size_t i = 0; i < def->ndisks; i++)
        format_disk (&sb, &def->disks[i]);
    for (size_t i = 0; i < def->nfss; i++)
        format_filesystem (&sb, &def->fss[i]);
    for (size_t i = 0; i < def->nnets; i++)
        format_interface (&sb, &def->nets[i]);
    for (size_t i = 0; i < def->nchrs; i++)
        if (def->chrs[i].kind == VB_CHR_SERIAL)
            format_chr (&sb, &def->chrs[i]);
    for (size_t i = 0; i < def->nchrs; i++)
        if (def->chrs[i].kind == VB_CHR_CONSOLE)
            format_chr (&sb, &def->chrs[i]);
    for (size_t i = 0; i < def->nhostdevs; i++)
        format_hostdev (&sb, &def->hostdevs[i]);
    sb_extra (&sb, def->extra_devices_xml);
    sb_indent (&sb, 1);
    sb_puts (&sb, "</devices>\n");
    sb_puts (&sb, "</domain>\n");
    return sb_take (&sb);
}

/* ---------------------------------------------------------------------------------------------
 *  Copying. Each helper copies into a zeroed DST and answers false on allocation failure; the
 *  caller then frees the partial copy through the normal free path.
 */
static bool
copy_str (char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return true;
    *dst = strdup (src);
    return *dst != NULL;
}

static bool
copy_disk (vb_disk_def_t *dst, const vb_disk_def_t *src)
{
    *dst = *src;
    dst->driver_name = dst->source = dst->target_dev = dst->serial = dst->extra_xml = NULL;
    dst->backing = NULL;
    if (!copy_str (&dst->driver_name, src->driver_name) || !copy_str (&dst->source, src->source)
        || !copy_str (&dst->target_dev, src->target_dev) || !copy_str (&dst->serial, src->serial)
        || !copy_str (&dst->extra_xml, src->extra_xml))
        return false;
    vb_backing_store_t **link = &dst->backing;
    for (const vb_backing_store_t *bs = src->backing; bs; bs = bs->backing) {
        vb_backing_store_t *c = calloc (1, sizeof *c);
        if (!c)
            return false;
        *link = c;
        link = &c->backing;
        c->index = bs->index;
        c->type = bs->type;
        c->format = bs->format;
        if (!copy_str (&c->path, bs->path))
            return false;
    }
    return true;
}

static bool
copy_net (vb_net_def_t *dst, const vb_net_def_t *src)
{
    *dst = *src;
    dst->mac = dst->model = dst->target_dev = dst->extra_xml = NULL;
    return copy_str (&dst->mac, src->mac) && copy_str (&dst->model, src->model)
           && copy_str (&dst->target_dev, src->target_dev)
           && copy_str (&dst->extra_xml, src->extra_xml);
}

static bool
copy_chr (vb_chr_def_t *dst, const vb_chr_def_t *src)
{
    *dst = *src;
    dst->target_type = dst->extra_xml = NULL;
    return copy_str (&dst->target_type, src->target_type)
           && copy_str (&dst->extra_xml, src->extra_xml);
}

static bool
copy_fs (vb_fs_def_t *dst, const vb_fs_def_t *src)
{
    *dst = *src;
    dst->type = dst->source = dst->target = dst->extra_xml = NULL;
    return copy_str (&dst->type, src->type) && copy_str (&dst->source, src->source)
           && copy_str (&dst->target, src->target) && copy_str (&dst->extra_xml, src->extra_xml);
}

static bool
copy_hostdev (vb_hostdev_def_t *dst, const vb_hostdev_def_t *src)
{
    dst->block = dst->extra_xml = NULL;
    return copy_str (&dst->block, src->block) && copy_str (&dst->extra_xml, src->extra_xml);
}

/*  Copy an array of N items of SIZE with COPY_ONE; *DST stays NULL for an empty array. *COPIED
 *  counts the items that free must visit (all slots are zeroed first). */
static bool
copy_array (void **dst, size_t *copied, const void *src, size_t n, size_t size,
            bool (*copy_one) (void *, const void *))
{
    *dst = NULL;
    *copied = 0;
    if (n == 0)
        return true;
    char *a = calloc (n, size);
    if (!a)
        return false;
    *dst = a;
    for (size_t i = 0; i < n; i++) {
        *copied = i + 1;
        if (!copy_one (a + i * size, (const char *) src + i * size))
            return false;
    }
    return true;
}

static bool
copy_disk_v (void *d, const void *s)
{
    return copy_disk (d, s);
}

static bool
copy_net_v (void *d, const void *s)
{
    return copy_net (d, s);
}

static bool
copy_chr_v (void *d, const void *s)
{
    return copy_chr (d, s);
}

static bool
copy_fs_v (void *d, const void *s)
{
    return copy_fs (d, s);
}

static bool
copy_hostdev_v (void *d, const void *s)
{
    return copy_hostdev (d, s);
}

vb_domain_def_t *
vb_domain_def_copy (const vb_domain_def_t *def)
{
    if (!def)
        return NULL;
    vb_domain_def_t *c = calloc (1, sizeof *c);
    if (!c)
        return NULL;
    memcpy (c->uuid, def->uuid, sizeof c->uuid);
    c->memory_kib = def->memory_kib;
    c->current_memory_kib = def->current_memory_kib;
    c->vcpus = def->vcpus;
    c->on_poweroff = def->on_poweroff;
    c->on_reboot = def->on_reboot;
    c->on_crash = def->on_crash;
    void *arr;
    bool ok = copy_str (&c->type, def->type) && copy_str (&c->name, def->name)
              && copy_str (&c->title, def->title)
              && copy_str (&c->description, def->description)
              && copy_str (&c->os_type, def->os_type) && copy_str (&c->os_arch, def->os_arch)
              && copy_str (&c->os_machine, def->os_machine)
              && copy_str (&c->os_kernel, def->os_kernel)
              && copy_str (&c->os_initrd, def->os_initrd)
              && copy_str (&c->os_cmdline, def->os_cmdline)
              && copy_str (&c->os_init, def->os_init) && copy_str (&c->emulator, def->emulator)
              && copy_str (&c->extra_xml, def->extra_xml)
              && copy_str (&c->extra_devices_xml, def->extra_devices_xml)
              && copy_str (&c->os_extra_xml, def->os_extra_xml);
    if (ok && def->os_initargs) {
        size_t n = 0;
        while (def->os_initargs[n])
            n++;
        c->os_initargs = calloc (n + 1, sizeof *c->os_initargs);
        ok = c->os_initargs != NULL;
        for (size_t i = 0; ok && i < n; i++)
            ok = copy_str (&c->os_initargs[i], def->os_initargs[i]);
    }
    if (ok) {
        ok = copy_array (&arr, &c->ndisks, def->disks, def->ndisks, sizeof *def->disks,
                         copy_disk_v);
        c->disks = arr;
    }
    if (ok) {
        ok = copy_array (&arr, &c->nnets, def->nets, def->nnets, sizeof *def->nets, copy_net_v);
        c->nets = arr;
    }
    if (ok) {
        ok = copy_array (&arr, &c->nchrs, def->chrs, def->nchrs, sizeof *def->chrs, copy_chr_v);
        c->chrs = arr;
    }
    if (ok) {
        ok = copy_array (&arr, &c->nfss, def->fss, def->nfss, sizeof *def->fss, copy_fs_v);
        c->fss = arr;
    }
    if (ok) {
        ok = copy_array (&arr, &c->nhostdevs, def->hostdevs, def->nhostdevs,
                         sizeof *def->hostdevs, copy_hostdev_v);
        c->hostdevs = arr;
    }
    if (!ok)
        vb_domain_def_free (&c);
    return c;
}
