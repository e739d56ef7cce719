/*  test_qemu_support — shared pieces of the virtbus-qemu integration tests. */
#include "test_qemu_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "qemu_domain.h"
#include "qemu_process.h"
#include "vb_domstate.h"
#include "vb_guest.h"
#include "vb_json.h"
#include "vb_testcall.h"
#include "vb_testproc.h"

const char *
qt_domain_type (void)
{
    int fd = open ("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return "qemu";
    close (fd);
    return "kvm";
}

char *
qt_domain_xml (const char *name, const char *disks_xml, const char *emulator)
{
    char *xml = NULL, *emu = NULL;
    if (emulator)
        assert_true (asprintf (&emu, "    <emulator>%s</emulator>\n", emulator) > 0);
    assert_true (asprintf (&xml,
                           "<domain type='%s'>\n"
                           "  <name>%s</name>\n"
                           "  <memory unit='MiB'>64</memory>\n"
                           "  <vcpu>1</vcpu>\n"
                           "  <os><type arch='x86_64' machine='q35'>hvm</type></os>\n"
                           "  <devices>\n%s%s  </devices>\n"
                           "</domain>\n",
                           qt_domain_type (), name, emu ? emu : "", disks_xml) > 0);
    free (emu);
    return xml;
}

char *
qt_disk_xml (const char *path, const char *format, const char *dev)
{
    char *xml = NULL;
    assert_true (asprintf (&xml,
                           "    <disk type='file' device='disk'>\n"
                           "      <driver name='qemu' type='%s'/>\n"
                           "      <source file='%s'/>\n"
                           "      <target dev='%s' bus='virtio'/>\n"
                           "    </disk>\n", format, path, dev) > 0);
    return xml;
}

void
qt_write_guest (const char *path, const char *kind)
{
    uint8_t sector[VB_GUEST_SECTOR_SIZE];
    if (strcmp (kind, "power_button") == 0)
        vb_guest_power_button (sector);
    else
        vb_guest_idle (sector);
    vb_error_t err = {0};
    if (vb_guest_write_image (path, sector, 1024 * 1024, &err) != 0)
        fail_msg ("cannot write guest %s: %s", path, err.message);
}

void
qt_sh (const char *cmd)
{
    char *argv[] = {"/bin/sh", "-c", (char *) cmd, NULL};
    vb_testrun_t run;
    vb_testrun (&run, 60000, argv);
    if (run.exit_code != 0)
        fail_msg ("command failed (exit %d): %s\n%s%s", run.exit_code, cmd, run.out, run.err);
    vb_testrun_clear (&run);
}

vb_testproc_t *
qt_start_worker (vb_testenv_t *env, const char *host, const char *id, const char *root)
{
    char hb[16], bin[PATH_MAX], name[128];
    snprintf (hb, sizeof hb, "%d", vb_testenv_heartbeat_ms (env));
    snprintf (bin, sizeof bin, "%s", vb_testenv_bin (env, "virtbus-qemu"));
    snprintf (name, sizeof name, "virtbus-qemu-%s-%s", host, id);
    char *argv[] = {bin, "--broker", (char *) vb_testenv_workers_ep (env), "--host",
                    (char *) host, "--state-dir", (char *) root, "--heartbeat-ms", hb,
                    "--log-level", "info", "--id", (char *) id, NULL};
    vb_testproc_t *proc = vb_testproc_start (name, vb_testenv_dir (env), argv);
    if (proc && vb_testproc_wait_ready (proc, vb_test_start_timeout_ms ()) != 0)
        vb_testproc_destroy (&proc);
    return proc;
}

void
qt_define (vb_client_t *client, const char *xml)
{
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "xml", json_object_new_string (xml));
    vb_error_t err = {0};
    char buf[1024];
    vb_reply_t *r = vb_testcall (client, "domain.define", NULL, NULL, args, 10000, NULL, &err);
    if (!r || !r->ok)
        fail_msg ("define failed: %s", vb_testcall_describe (r, &err, buf, sizeof buf));
    vb_reply_destroy (&r);
}

void
qt_ok (vb_client_t *client, const char *op, const char *domain)
{
    vb_error_t err = {0};
    char buf[1024];
    vb_reply_t *r = vb_testcall (client, op, NULL, domain, NULL, 10000, NULL, &err);
    if (!r || !r->ok)
        fail_msg ("%s %s failed: %s", op, domain, vb_testcall_describe (r, &err, buf, sizeof buf));
    vb_reply_destroy (&r);
}

json_object *
qt_info (vb_client_t *client, const char *domain, uint32_t deadline_ms)
{
    vb_error_t err = {0};
    vb_reply_t *r = vb_testcall (client, "domain.info", NULL, domain, NULL, deadline_ms, NULL,
                                 &err);
    json_object *info = r && r->ok ? json_object_get (r->result) : NULL;
    vb_reply_destroy (&r);
    return info;
}

int
qt_state (vb_client_t *client, const char *domain, pid_t *pid_out, char *worker, size_t size)
{
    json_object *info = qt_info (client, domain, 2000);
    if (!info)
        return -1;
    int state = (int) vb_json_int (info, "state", -1);
    if (pid_out)
        *pid_out = (pid_t) vb_json_int (info, "pid", 0);
    if (worker)
        snprintf (worker, size, "%s", vb_json_str (info, "worker", ""));
    json_object_put (info);
    return state;
}

typedef struct {
    vb_client_t *client;
    const char *domain;
    int state;
    pid_t pid;
} s_wait_t;

static bool
s_state_is (void *arg)
{
    s_wait_t *w = arg;
    pid_t pid = 0;
    int state = qt_state (w->client, w->domain, &pid, NULL, 0);
    return state == w->state && (w->pid <= 0 || pid == w->pid);
}

bool
qt_wait_state (vb_client_t *client, const char *domain, int state, pid_t pid, int bound_ms)
{
    s_wait_t w = {client, domain, state, pid};
    return vb_test_poll_until (s_state_is, &w, 50, bound_ms, NULL);
}

bool
qt_alive (pid_t pid)
{
    uint64_t ticks;
    return qemu_process_start_ticks (pid, &ticks) == 0;
}

void
qt_kill_qemus (const char *dir)
{
    DIR *d = opendir (dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir (d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX];
        snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat (path, &st) != 0)
            continue;
        if (S_ISDIR (st.st_mode)) {
            qt_kill_qemus (path);
            continue;
        }
        size_t len = strlen (e->d_name);
        if (len < 7 || strcmp (e->d_name + len - 7, ".status") != 0)
            continue;
        qemu_status_t status;
        vb_error_t err = {0};
        if (qemu_status_read (path, &status, &err) == 0) {
            if (qemu_process_is (status.pid, status.start_ticks))
                kill (status.pid, SIGKILL);
            qemu_status_clear (&status);
        }
    }
    closedir (d);
}
