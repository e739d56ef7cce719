/*  vb_keygen — `virtbusd keygen` (see vb_keygen.h). */
#include "vb_keygen.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "vb_auth.h"

static void
s_usage (FILE *out)
{
    fprintf (out,
             "Usage: virtbusd keygen [--out DIR] [--role read-only|admin] [--broker-cert FILE] "
             "NAME\n"
             "Write a new CurveZMQ keypair: DIR/NAME (the public certificate, to copy into the\n"
             "broker's workers/ or clients/ directory) and DIR/NAME_secret (the keypair, mode\n"
             "0600, for the key's owner). Existing files are never overwritten.\n"
             "\n"
             "  --out DIR           where to write (default: the current directory)\n"
             "  --role ROLE         a client key's role: read-only or admin\n"
             "  --broker-cert FILE  the broker's public certificate; its key is recorded in the\n"
             "                      new certificate so the key's owner needs no --server-key\n"
             "\n"
             "The broker's own keypair is `virtbusd keygen --out KEYS broker` (KEYS/broker_secret\n"
             "is what `virtbusd --keys KEYS` loads).\n");
}

int
vb_keygen_main (int argc, char **argv)
{
    enum { OPT_OUT = 1, OPT_ROLE, OPT_BROKER_CERT, OPT_HELP };
    static const struct option options[] = {
        { "out", required_argument, NULL, OPT_OUT },
        { "role", required_argument, NULL, OPT_ROLE },
        { "broker-cert", required_argument, NULL, OPT_BROKER_CERT },
        { "help", no_argument, NULL, OPT_HELP },
        { NULL, 0, NULL, 0 },
    };
    const char *out = ".", *role = NULL, *broker_cert = NULL;
    int opt;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_OUT: out = optarg; break;
        case OPT_ROLE: role = optarg; break;
        case OPT_BROKER_CERT: broker_cert = optarg; break;
        case OPT_HELP:
            s_usage (stdout);
            return 0;
        default:
            fprintf (stderr, "virtbusd keygen: unknown or incomplete option '%s'; see virtbusd "
                     "keygen --help\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind + 1 != argc) {
        fprintf (stderr, "virtbusd keygen: expected one key NAME; see virtbusd keygen --help\n");
        return 2;
    }
    const char *name = argv[optind];
    vb_error_t err = { 0 };
    if (vb_auth_keygen (out, name, role, broker_cert, &err) != 0) {
        fprintf (stderr, "virtbusd keygen: %s\n", err.message);
        return 1;
    }
    printf ("wrote %s/%s and %s/%s_secret\n", out, name, out, name);
    return 0;
}
