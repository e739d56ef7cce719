/*  vb_endpoint — bind and advertise policy of the broker (see vb_endpoint.h). */
#include "vb_endpoint.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

/*  The host part of a tcp:// endpoint: start and length (without the port). False when EP is
 *  not tcp:// or has no port. */
static bool
s_tcp_host (const char *ep, const char **host, size_t *len)
{
    if (!ep || strncmp (ep, "tcp://", 6) != 0)
        return false;
    const char *start = ep + 6;
    const char *colon = strrchr (start, ':');
    if (!colon)
        return false;
    /*  "tcp://eth0;10.0.0.1:port" binds a source interface: the address after ';' counts. */
    const char *semi = memchr (start, ';', (size_t) (colon - start));
    if (semi)
        start = semi + 1;
    *host = start;
    *len = (size_t) (colon - start);
    return true;
}

static bool
s_host_is (const char *host, size_t len, const char *what)
{
    return strlen (what) == len && strncmp (host, what, len) == 0;
}

bool
vb_endpoint_is_wildcard (const char *ep)
{
    static const char *const wildcards[] = { "0.0.0.0", "*", "[::]", "::", "[*]", NULL };
    const char *host;
    size_t len;
    if (!s_tcp_host (ep, &host, &len))
        return false;
    for (size_t i = 0; wildcards[i]; i++)
        if (s_host_is (host, len, wildcards[i]))
            return true;
    return false;
}

bool
vb_endpoint_is_loopback (const char *ep)
{
    if (!ep)
        return false;
    if (strncmp (ep, "ipc://", 6) == 0 || strncmp (ep, "inproc://", 9) == 0)
        return true;
    const char *host;
    size_t len;
    if (!s_tcp_host (ep, &host, &len) || len == 0 || len >= 64)
        return false;
    char text[64];
    memcpy (text, host, len);
    text[len] = '\0';
    if (strcmp (text, "localhost") == 0 || strcmp (text, "[::1]") == 0)
        return true;
    struct in_addr v4;
    return inet_pton (AF_INET, text, &v4) == 1 && (ntohl (v4.s_addr) >> 24) == 127;
}

static bool
s_is_hostname (const char *host)
{
    size_t len = strlen (host), label = 0;
    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i <= len; i++) {
        char c = host[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || host[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!isalnum ((unsigned char) c) && c != '-')
            return false;
        if (label == 0 && c == '-')
            return false;
        label++;
    }
    return true;
}

bool
vb_advertise_is_valid (const char *host)
{
    if (!host || !*host)
        return false;
    size_t len = strlen (host);
    if (host[0] == '[') {
        char inner[64];
        struct in6_addr v6;
        if (len < 3 || len - 2 >= sizeof inner || host[len - 1] != ']')
            return false;
        memcpy (inner, host + 1, len - 2);
        inner[len - 2] = '\0';
        return inet_pton (AF_INET6, inner, &v6) == 1;
    }
    struct in_addr v4;
    if (inet_pton (AF_INET, host, &v4) == 1)
        return strcmp (host, "0.0.0.0") != 0;
    /*  All-numeric dotted names that are not an address ("10.0.0.300") are typos, not hosts. */
    bool numeric = true;
    for (const char *p = host; *p; p++)
        if (!isdigit ((unsigned char) *p) && *p != '.')
            numeric = false;
    return !numeric && s_is_hostname (host);
}

int
vb_endpoint_policy (const char *const endpoints[], const char *advertise, bool keyed,
                    bool insecure, vb_error_t *err)
{
    if (advertise && !vb_advertise_is_valid (advertise))
        return vb_error_set (err, VB_ERR_INVALID_ARG, "--advertise '%s' is not a host name, an "
                             "IPv4 address or a bracketed IPv6 address ([fd00::1])", advertise);
    for (size_t i = 0; endpoints[i]; i++) {
        const char *ep = endpoints[i];
        if (vb_endpoint_is_wildcard (ep) && !advertise)
            return vb_error_set (err, VB_ERR_INVALID_ARG, "%s binds every interface, so peers "
                                 "need to be told an address: add --advertise HOST", ep);
        if (!vb_endpoint_is_loopback (ep) && !keyed && !insecure)
            return vb_error_set (err, VB_ERR_INVALID_ARG, "refusing to serve %s without keys: "
                                 "other machines can reach it; give --keys DIR (see "
                                 "docs/operations.md) or accept the risk with --insecure", ep);
    }
    return 0;
}
