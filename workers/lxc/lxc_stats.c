/*  lxc_stats — cgroup and /proc/net/dev parsers and readers (see lxc_stats.h). */
#include "lxc_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vb_util.h"

#define LXC_STATS_FILE_MAX (256 * 1024)

/*  Parse a decimal u64 at *P (after blanks), advancing *P. */
static bool
s_u64 (const char **p, uint64_t *out)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s < '0' || *s > '9')
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull (s, &end, 10);
    if (errno != 0)
        return false;
    *out = (uint64_t) v;
    *p = end;
    return true;
}

static bool
s_line_end (const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r')
        p++;
    return *p == '\n' || *p == '\0';
}

int
lxc_stats_parse_u64 (const char *text, bool max_ok, uint64_t *out, vb_error_t *err)
{
    const char *p = text? text: "";
    if (max_ok && strncmp (p, "max", 3) == 0 && s_line_end (p + 3)) {
        *out = UINT64_MAX;
        return 0;
    }
    if (!s_u64 (&p, out) || !s_line_end (p))
        return vb_error_set (err, VB_ERR_INVALID_ARG,
                             "the cgroup file does not hold one number: '%.40s'", text? text: "");
    return 0;
}

/*  The value of KEY in a "key value" per line file (cpuacct.stat, cpu.stat). */
static bool
s_keyed (const char *text, const char *key, uint64_t *out)
{
    size_t klen = strlen (key);
    for (const char *line = text; line && *line; ) {
        if (strncmp (line, key, klen) == 0 && (line[klen] == ' ' || line[klen] == '\t')) {
            const char *p = line + klen;
            return s_u64 (&p, out) && s_line_end (p);
        }
        line = strchr (line, '\n');
        if (line)
            line++;
    }
    return false;
}

int
lxc_stats_parse_cpuacct (const char *usage, const char *stat, long clk_tck,
                         lxc_cpu_stats_t *out, vb_error_t *err)
{
    uint64_t user = 0, system = 0;
    memset (out, 0, sizeof *out);
    if (clk_tck <= 0)
        return vb_error_set (err, VB_ERR_INVALID_ARG, "the clock tick rate %ld is not positive",
                             clk_tck);
    if (lxc_stats_parse_u64 (usage, false, &out->time_ns, err) != 0)
        return -1;
    if (!s_keyed (stat? stat: "", "user", &user) || !s_keyed (stat? stat: "", "system", &system))
        return vb_error_set (err, VB_ERR_INVALID_ARG,
                             "cpuacct.stat has no 'user N' and 'system N' lines");
    /*  Ticks to ns as libvirt does (USER_HZ ticks x 1e9 / _SC_CLK_TCK). */
    out->user_ns = user * (1000000000ULL / (uint64_t) clk_tck);
    out->system_ns = system * (1000000000ULL / (uint64_t) clk_tck);
    return 0;
}

int
lxc_stats_parse_cpu_stat (const char *text, lxc_cpu_stats_t *out, vb_error_t *err)
{
    uint64_t usage = 0, user = 0, system = 0;
    memset (out, 0, sizeof *out);
    const char *t = text? text: "";
    if (!s_keyed (t, "usage_usec", &usage) || !s_keyed (t, "user_usec", &user)
        || !s_keyed (t, "system_usec", &system))
        return vb_error_set (err, VB_ERR_INVALID_ARG,
                             "cpu.stat has no usage_usec, user_usec and system_usec lines");
    out->time_ns = usage * 1000;
    out->user_ns = user * 1000;
    out->system_ns = system * 1000;
    return 0;
}

/*  Does LINE start with "MAJ:MIN " ? Then *REST points after it. */
static bool
s_dev_prefix (const char *line, unsigned maj, unsigned min, const char **rest)
{
    char prefix[32];
    int n = snprintf (prefix, sizeof prefix, "%u:%u ", maj, min);
    if (strncmp (line, prefix, (size_t) n) != 0)
        return false;
    *rest = line + n;
    return true;
}

/*  In a blkio.throttle file, the "<maj:min> Read N" / "Write N" values of one device. */
static int
s_blkio_file (const char *text, const char *name, unsigned maj, unsigned min, uint64_t *rd,
              uint64_t *wr, vb_error_t *err)
{
    *rd = *wr = 0;
    for (const char *line = text? text: ""; *line; ) {
        const char *rest;
        if (s_dev_prefix (line, maj, min, &rest)) {
            uint64_t *dst = NULL;
            if (strncmp (rest, "Read ", 5) == 0)
                dst = rd, rest += 5;
            else if (strncmp (rest, "Write ", 6) == 0)
                dst = wr, rest += 6;
            if (dst && (!s_u64 (&rest, dst) || !s_line_end (rest)))
                return vb_error_set (err, VB_ERR_INVALID_ARG,
                                     "%s has a malformed line for device %u:%u", name, maj, min);
        }
        const char *nl = strchr (line, '\n');
        if (!nl)
            break;
        line = nl + 1;
    }
    return 0;
}

int
lxc_stats_parse_blkio (const char *bytes, const char *ios, unsigned maj, unsigned min,
                       lxc_io_stats_t *out, vb_error_t *err)
{
    memset (out, 0, sizeof *out);
    if (s_blkio_file (bytes, "blkio.throttle.io_service_bytes", maj, min, &out->rd_bytes,
                      &out->wr_bytes, err) != 0
        || s_blkio_file (ios, "blkio.throttle.io_serviced", maj, min, &out->rd_reqs,
                         &out->wr_reqs, err) != 0)
        return -1;
    return 0;
}

int
lxc_stats_parse_io_stat (const char *text, unsigned maj, unsigned min, lxc_io_stats_t *out,
                         vb_error_t *err)
{
    static const struct {
        const char *key;
        size_t offset;
    } fields[] = {
        { "rbytes", offsetof (lxc_io_stats_t, rd_bytes) },
        { "wbytes", offsetof (lxc_io_stats_t, wr_bytes) },
        { "rios", offsetof (lxc_io_stats_t, rd_reqs) },
        { "wios", offsetof (lxc_io_stats_t, wr_reqs) },
    };
    memset (out, 0, sizeof *out);
    for (const char *line = text? text: ""; *line; ) {
        const char *rest;
        if (s_dev_prefix (line, maj, min, &rest)) {
            /*  key=value pairs separated by blanks; keys we do not know (dbytes, dios, and
             *  whatever a newer kernel adds) are skipped. */
            const char *p = rest;
            while (!s_line_end (p)) {
                while (*p == ' ')
                    p++;
                const char *eq = strchr (p, '=');
                const char *nl = strchr (p, '\n');
                if (!eq || (nl && eq > nl))
                    return vb_error_set (err, VB_ERR_INVALID_ARG,
                                         "io.stat has a malformed line for device %u:%u", maj,
                                         min);
                uint64_t v = 0;
                const char *vp = eq + 1;
                if (!s_u64 (&vp, &v) || (*vp != ' ' && !s_line_end (vp)))
                    return vb_error_set (err, VB_ERR_INVALID_ARG,
                                         "io.stat has a malformed value for device %u:%u", maj,
                                         min);
                for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
                    if ((size_t) (eq - p) == strlen (fields[i].key)
                        && strncmp (p, fields[i].key, (size_t) (eq - p)) == 0)
                        *(uint64_t *) ((char *) out + fields[i].offset) = v;
                p = vp;
            }
            return 0;
        }
        const char *nl = strchr (line, '\n');
        if (!nl)
            break;
        line = nl + 1;
    }
    return 0;
}

int
lxc_stats_parse_net_dev (const char *text, const char *ifname, lxc_net_stats_t *out,
                         vb_error_t *err)
{
    memset (out, 0, sizeof *out);
    size_t nlen = strlen (ifname);
    for (const char *line = text? text: ""; *line; ) {
        const char *p = line;
        while (*p == ' ')
            p++;
        if (strncmp (p, ifname, nlen) == 0 && p[nlen] == ':') {
            /*  rx: bytes packets errs drop fifo frame compressed multicast;
             *  tx: bytes packets errs drop fifo colls carrier compressed. */
            uint64_t v[16];
            p += nlen + 1;
            for (int i = 0; i < 16; i++)
                if (!s_u64 (&p, &v[i]))
                    return vb_error_set (err, VB_ERR_INVALID_ARG,
                                         "/proc/net/dev has a malformed line for %s", ifname);
            out->rx_bytes = v[0], out->rx_pkts = v[1], out->rx_errs = v[2], out->rx_drop = v[3];
            out->tx_bytes = v[8], out->tx_pkts = v[9], out->tx_errs = v[10], out->tx_drop = v[11];
            return 0;
        }
        const char *nl = strchr (line, '\n');
        if (!nl)
            break;
        line = nl + 1;
    }
    return vb_error_set (err, VB_ERR_NO_DOMAIN, "interface '%s' is not in /proc/net/dev", ifname);
}

char *
lxc_stats_parse_proc_cgroup (const char *text, const char *controller, vb_error_t *err)
{
    for (const char *line = text? text: ""; *line; ) {
        const char *nl = strchr (line, '\n');
        size_t len = nl? (size_t) (nl - line): strlen (line);
        /*  "ID:controller,controller:/path" */
        const char *c1 = memchr (line, ':', len);
        const char *c2 = c1? memchr (c1 + 1, ':', len - (size_t) (c1 + 1 - line)): NULL;
        if (c1 && c2) {
            bool match = false;
            size_t clen = strlen (controller);
            if (clen == 0)
                match = c2 == c1 + 1 && c1 - line == 1 && line[0] == '0';
            else
                for (const char *s = c1 + 1; s < c2; ) {
                    const char *comma = memchr (s, ',', (size_t) (c2 - s));
                    const char *e = comma? comma: c2;
                    if ((size_t) (e - s) == clen && strncmp (s, controller, clen) == 0)
                        match = true;
                    s = e + 1;
                }
            if (match && c2[1] == '/') {
                char *path = strndup (c2 + 1, len - (size_t) (c2 + 1 - line));
                if (!path)
                    vb_error_set (err, VB_ERR_INTERNAL, "out of memory reading cgroups");
                return path;
            }
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    vb_error_set (err, VB_ERR_INVALID_ARG, "cgroup controller '%s' is not listed",
                  *controller? controller: "(unified)");
    return NULL;
}

/* --- readers ------------------------------------------------------------------------------- */

static char *
s_read (const char *dir, const char *file, vb_error_t *err)
{
    char path[4352];
    snprintf (path, sizeof path, "%s/%s", dir, file);
    vb_error_t why = { 0 };
    char *text = vb_read_file (path, LXC_STATS_FILE_MAX, NULL, &why);
    if (!text)
        vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot read %s: %s", path, why.message);
    return text;
}

static char *
s_dir (const char *root, const char *controller, const char *path)
{
    char *dir = NULL;
    if (asprintf (&dir, "%s%s%s%s", root, *controller? "/": "", controller,
                  strcmp (path, "/") == 0? "": path) < 0)
        return NULL;
    return dir;
}

int
lxc_cgroup_find (const char *root, pid_t pid, lxc_cgroup_t *cg, vb_error_t *err)
{
    char path[64], probe[4200];
    char *text = NULL, *cpu = NULL, *mem = NULL, *blk = NULL, *frz = NULL;
    int rc = -1;
    memset (cg, 0, sizeof *cg);
    snprintf (path, sizeof path, "/proc/%d/cgroup", (int) pid);
    vb_error_t why = { 0 };
    text = vb_read_file (path, LXC_STATS_FILE_MAX, NULL, &why);
    if (!text) {
        vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot read %s: %s", path, why.message);
        goto cleanup;
    }
    snprintf (probe, sizeof probe, "%s/cgroup.controllers", root);
    cg->v2 = access (probe, F_OK) == 0;
    if (cg->v2) {
        cpu = lxc_stats_parse_proc_cgroup (text, "", err);
        if (!cpu)
            goto cleanup;
        cg->cpu_dir = s_dir (root, "", cpu);
        cg->memory_dir = s_dir (root, "", cpu);
        cg->blkio_dir = s_dir (root, "", cpu);
        cg->freezer_dir = s_dir (root, "", cpu);
    }
    else {
        if (!(cpu = lxc_stats_parse_proc_cgroup (text, "cpuacct", err))
            || !(mem = lxc_stats_parse_proc_cgroup (text, "memory", err))
            || !(blk = lxc_stats_parse_proc_cgroup (text, "blkio", err))
            || !(frz = lxc_stats_parse_proc_cgroup (text, "freezer", err)))
            goto cleanup;
        cg->freezer_dir = s_dir (root, "freezer", frz);
        cg->cpu_dir = s_dir (root, "cpuacct", cpu);
        cg->memory_dir = s_dir (root, "memory", mem);
        cg->blkio_dir = s_dir (root, "blkio", blk);
    }
    if (!cg->cpu_dir || !cg->memory_dir || !cg->blkio_dir || !cg->freezer_dir) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory locating cgroups of pid %d",
                      (int) pid);
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (rc != 0)
        lxc_cgroup_clear (cg);
    free (text);
    free (cpu);
    free (mem);
    free (blk);
    free (frz);
    return rc;
}

void
lxc_cgroup_clear (lxc_cgroup_t *cg)
{
    free (cg->cpu_dir);
    free (cg->memory_dir);
    free (cg->blkio_dir);
    free (cg->freezer_dir);
    memset (cg, 0, sizeof *cg);
}

int
lxc_cgroup_read_cpu (const lxc_cgroup_t *cg, lxc_cpu_stats_t *out, vb_error_t *err)
{
    char *a = NULL, *b = NULL;
    int rc = -1;
    if (cg->v2) {
        if ((a = s_read (cg->cpu_dir, "cpu.stat", err)))
            rc = lxc_stats_parse_cpu_stat (a, out, err);
    }
    else if ((a = s_read (cg->cpu_dir, "cpuacct.usage", err))
             && (b = s_read (cg->cpu_dir, "cpuacct.stat", err)))
        rc = lxc_stats_parse_cpuacct (a, b, sysconf (_SC_CLK_TCK), out, err);
    free (a);
    free (b);
    return rc;
}

int
lxc_cgroup_read_memory (const lxc_cgroup_t *cg, uint64_t *usage, uint64_t *limit,
                        vb_error_t *err)
{
    char *a = NULL, *b = NULL;
    int rc = -1;
    const char *ufile = cg->v2? "memory.current": "memory.usage_in_bytes";
    const char *lfile = cg->v2? "memory.max": "memory.limit_in_bytes";
    if ((a = s_read (cg->memory_dir, ufile, err)) && (b = s_read (cg->memory_dir, lfile, err))
        && lxc_stats_parse_u64 (a, false, usage, err) == 0
        && lxc_stats_parse_u64 (b, true, limit, err) == 0)
        rc = 0;
    free (a);
    free (b);
    return rc;
}

int
lxc_cgroup_read_io (const lxc_cgroup_t *cg, unsigned maj, unsigned min, lxc_io_stats_t *out,
                    vb_error_t *err)
{
    char *a = NULL, *b = NULL;
    int rc = -1;
    if (cg->v2) {
        if ((a = s_read (cg->blkio_dir, "io.stat", err)))
            rc = lxc_stats_parse_io_stat (a, maj, min, out, err);
    }
    else if ((a = s_read (cg->blkio_dir, "blkio.throttle.io_service_bytes", err))
             && (b = s_read (cg->blkio_dir, "blkio.throttle.io_serviced", err)))
        rc = lxc_stats_parse_blkio (a, b, maj, min, out, err);
    free (a);
    free (b);
    return rc;
}

int
lxc_cgroup_freeze (const lxc_cgroup_t *cg, bool freeze, vb_error_t *err)
{
    char path[4352];
    if (!cg->freezer_dir)
        return vb_error_set (err, VB_ERR_OPERATION_FAILED, "the container's freezer cgroup is "
                             "not known");
    snprintf (path, sizeof path, "%s/%s", cg->freezer_dir,
              cg->v2? "cgroup.freeze": "freezer.state");
    const char *value = cg->v2? (freeze? "1": "0"): (freeze? "FROZEN": "THAWED");
    int fd = open (path, O_WRONLY | O_CLOEXEC);
    ssize_t n = fd >= 0? write (fd, value, strlen (value)): -1;
    int e = errno;
    if (fd >= 0)
        close (fd);
    if (n != (ssize_t) strlen (value))
        return vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot write %s to %s: %s", value,
                             path, strerror (e));
    return 0;
}

int
lxc_cgroup_frozen (const lxc_cgroup_t *cg, vb_error_t *err)
{
    if (!cg->freezer_dir)
        return vb_error_set (err, VB_ERR_OPERATION_FAILED, "the container's freezer cgroup is "
                             "not known");
    char *text = s_read (cg->freezer_dir, cg->v2? "cgroup.freeze": "freezer.state", err);
    if (!text)
        return -1;
    int frozen = cg->v2? text[0] == '1'
                       : strncmp (text, "FROZEN", 6) == 0 || strncmp (text, "FREEZING", 8) == 0;
    free (text);
    return frozen;
}
