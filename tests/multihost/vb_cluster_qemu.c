/*  vb_cluster_qemu — real QEMU domains on a vb_cluster test bed (see vb_cluster_qemu.h). */
#include "vb_cluster_qemu.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "qemu_domain.h"
#include "qemu_process.h"
#include "test_qemu_support.h"
#include "vb_guest.h"
#include "vb_json.h"
#include "vb_testcall.h"
#include "vb_util.h"

/*  Deepest status file below the cluster dir: hosts/<host>/state/<host>/qemu/<uuid>.status. */
#define S_MAX_DEPTH 8
#define S_MAX_QEMUS 256

typedef struct {
    pid_t pid;
    uint64_t ticks;
} s_qemu_t;

static int
s_mkdir (const char *path)
{
    if (mkdir (path, 0755) != 0 && errno != EEXIST) {
        fprintf (stderr, "vb_cluster_qemu: cannot create %s: %s\n", path, strerror (errno));
        return -1;
    }
    return 0;
}

int
vb_cluster_qemu_define (vb_cluster_t *cluster, vb_client_t *client, const char *host,
                        const char *name, char uuid_out[37])
{
    char dir[PATH_MAX - 64], path[PATH_MAX], line[1024];
    char *xml = NULL;
    int rc = -1;
    vb_uuid_generate (uuid_out);
    snprintf (dir, sizeof dir, "%s/hosts/%s/images", vb_cluster_dir (cluster), host);
    snprintf (path, sizeof path, "%s/%s.raw", dir, uuid_out);
    uint8_t sector[VB_GUEST_SECTOR_SIZE];
    vb_guest_idle (sector);
    vb_error_t err = {0};
    if (s_mkdir (dir) != 0)
        goto done;
    if (vb_guest_write_image (path, sector, 1024 * 1024, &err) != 0) {
        fprintf (stderr, "vb_cluster_qemu: image of %s/%s: %s\n", host, name, err.message);
        goto done;
    }
    if (asprintf (&xml,
                  "<domain type='%s'>\n"
                  "  <name>%s</name>\n"
                  "  <uuid>%s</uuid>\n"
                  "  <memory unit='MiB'>64</memory>\n"
                  "  <vcpu>1</vcpu>\n"
                  "  <os><type arch='x86_64' machine='q35'>hvm</type></os>\n"
                  "  <devices>\n"
                  "    <disk type='file' device='disk'>\n"
                  "      <driver name='qemu' type='raw'/>\n"
                  "      <source file='%s'/>\n"
                  "      <target dev='vda' bus='virtio'/>\n"
                  "    </disk>\n"
                  "  </devices>\n"
                  "</domain>\n", qt_domain_type (), name, uuid_out, path) < 0) {
        xml = NULL;
        fprintf (stderr, "vb_cluster_qemu: out of memory defining %s/%s\n", host, name);
        goto done;
    }
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "xml", json_object_new_string (xml));
    vb_reply_t *r = vb_testcall (client, "domain.define", host, NULL, args, 10000, NULL, &err);
    if (r && r->ok && strcmp (vb_json_str (r->result, "uuid", ""), uuid_out) == 0)
        rc = 0;
    else
        fprintf (stderr, "vb_cluster_qemu: define %s on %s (uuid %s): %s\n", name, host,
                 uuid_out, vb_testcall_describe (r, &err, line, sizeof line));
    vb_reply_destroy (&r);
done:
    free (xml);
    return rc;
}

int
vb_cluster_qemu_info (vb_client_t *client, const char *domain, unsigned deadline_ms,
                      int *state, pid_t *pid, char *worker, size_t size)
{
    vb_error_t err = {0};
    vb_reply_t *r = vb_testcall (client, "domain.info", NULL, domain, NULL, deadline_ms, NULL,
                                 &err);
    int rc = r && r->ok && json_object_is_type (r->result, json_type_object) ? 0 : -1;
    if (rc == 0) {
        if (state)
            *state = (int) vb_json_int (r->result, "state", -1);
        if (pid)
            *pid = (pid_t) vb_json_int (r->result, "pid", 0);
        if (worker)
            snprintf (worker, size, "%s", vb_json_str (r->result, "worker", ""));
    }
    vb_reply_destroy (&r);
    return rc;
}

bool
vb_cluster_qemu_alive (pid_t pid)
{
    uint64_t ticks;
    return pid > 0 && qemu_process_start_ticks (pid, &ticks) == 0;
}

/*  Collect the live QEMUs of the status files under DIR into QEMUS (*N so far). */
static void
s_collect (const char *dir, int depth, s_qemu_t *qemus, size_t *n)
{
    DIR *d = depth <= S_MAX_DEPTH ? opendir (dir) : NULL;
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir (d)) && *n < S_MAX_QEMUS) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX];
        snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat (path, &st) != 0)
            continue;
        if (S_ISDIR (st.st_mode)) {
            s_collect (path, depth + 1, qemus, n);
            continue;
        }
        size_t len = strlen (e->d_name);
        if (len < 7 || strcmp (e->d_name + len - 7, ".status") != 0)
            continue;
        qemu_status_t status;
        vb_error_t err = {0};
        if (qemu_status_read (path, &status, &err) != 0)
            continue;
        if (qemu_process_is (status.pid, status.start_ticks)) {
            qemus[*n].pid = status.pid;
            qemus[*n].ticks = status.start_ticks;
            (*n)++;
        }
        qemu_status_clear (&status);
    }
    closedir (d);
}

int
vb_cluster_qemu_kill_all (vb_cluster_t *cluster, int bound_ms)
{
    s_qemu_t qemus[S_MAX_QEMUS];
    size_t n = 0;
    s_collect (vb_cluster_dir (cluster), 0, qemus, &n);
    for (size_t i = 0; i < n; i++)
        kill (qemus[i].pid, SIGKILL);
    /*  The workers ignore SIGCHLD, so the kernel reaps their QEMUs: wait for /proc to drop
     *  them, or a namespace could outlive its deletion. */
    struct timespec nap = {0, 20 * 1000 * 1000};
    int left = 0;
    for (int waited = 0;; waited += 20) {
        left = 0;
        for (size_t i = 0; i < n; i++)
            left += qemu_process_is (qemus[i].pid, qemus[i].ticks);
        if (left == 0 || waited >= bound_ms)
            break;
        nanosleep (&nap, NULL);
    }
    for (size_t i = 0; left && i < n; i++)
        if (qemu_process_is (qemus[i].pid, qemus[i].ticks))
            fprintf (stderr, "vb_cluster_qemu: QEMU pid %d still alive %d ms after SIGKILL\n",
                     (int) qemus[i].pid, bound_ms);
    return left;
}
