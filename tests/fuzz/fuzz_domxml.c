/*  libFuzzer harness for the domain XML parser (vb_domxml).
 *
 *  Any input must be answered without a crash, leak or sanitizer report, and an accepted one
 *  must keep the module's promise: its formatted XML parses again, to a definition that
 *  formats to the same text, and a deep copy formats the same too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_domxml.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    vb_error_t err = { 0 };
    char *type = vb_domxml_peek_type ((const char *) data, size, &err);
    if (type)
        (void) vb_domxml_driver_for_type (type);
    free (type);

    vb_domain_def_t *def = vb_domxml_parse ((const char *) data, size, &err);
    if (!def) {
        if (err.code != VB_ERR_INVALID_XML && err.code != VB_ERR_INTERNAL)
            abort ();
        return 0;
    }
    char *xml = vb_domxml_format (def);
    if (!xml)
        abort ();
    vb_domain_def_t *again = vb_domxml_parse (xml, strlen (xml), &err);
    if (!again) {
        fprintf (stderr, "formatted XML does not parse again: %s\n%s\n", err.message, xml);
        abort ();
    }
    char *xml2 = vb_domxml_format (again);
    vb_domain_def_t *copy = vb_domain_def_copy (again);
    char *xml3 = copy ? vb_domxml_format (copy) : NULL;
    if (!xml2 || strcmp (xml, xml2) != 0 || !xml3 || strcmp (xml2, xml3) != 0) {
        fprintf (stderr, "format is not stable:\n%s\n---\n%s\n", xml, xml2 ? xml2 : "(null)");
        abort ();
    }
    free (xml3);
    free (xml2);
    free (xml);
    vb_domain_def_free (&copy);
    vb_domain_def_free (&again);
    vb_domain_def_free (&def);
    return 0;
}
