/*  vb_keygen — `virtbusd keygen`: issue CurveZMQ keypairs for the broker, workers and clients.
 *
 *      virtbusd keygen [--out DIR] [--role read-only|admin] [--broker-cert FILE] NAME
 *
 *  writes DIR/NAME (public certificate) and DIR/NAME_secret (keypair, mode 0600) through
 *  vb_auth_keygen(). docs/operations.md shows where each file goes.
 */
#ifndef VB_KEYGEN_H
#define VB_KEYGEN_H

/*  The subcommand; ARGV[0] is "keygen". Returns the process exit status (0, 1 on failure, 2 on
 *  a usage error). */
int vb_keygen_main (int argc, char **argv);

#endif
