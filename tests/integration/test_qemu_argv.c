/*  Integration test: every qemuxml2argv golden is started once with the real QEMU.
 *
 *  For each case the test replaces /VBTMP in the XML with a fresh temporary directory, creates
 *  the images (NAME.setup when present; otherwise qemu-img / truncate for missing files and a loop
 *  device linked at the path of each block source), builds the argv, checks it equals the golden
 *  with the same substitution, and execs it. -S keeps the guest stopped. The test then waits
 *  (bounded) for the QMP socket, negotiates capabilities, asserts query-status says prelaunch,
 *  checks the pidfile names the process, checks that every disk's format node exists and that
 *  QEMU opened the same number of backing layers as vb_image reads from the headers, sends quit
 *  and reaps the process, SIGKILLing it by pid if it does not exit in time.
 *
 *  Domains of type kvm run with KVM when /dev/kvm opens; otherwise the test rewrites them to type
 *  qemu (TCG) and compares with the built argv only — never skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "qemu_command.h"
#include "vb_image.h"
#include "vb_util.h"

#define GOLDEN_DIR VB_TEST_DATA_DIR "/qemuxml2argv"
#define START_TIMEOUT_MS 15000
#define QMP_TIMEOUT_S 10
#define EXIT_TIMEOUT_MS 5000
#define MAX_LOOPS 4

extern char **environ;

typedef struct {
    const char *name;
    char dir[64];
    pid_t pid;
    char loops[MAX_LOOPS][64];
    int nloops;
    int qmp;
} tcase_t;

/*  Replace every occurrence of FROM in TEXT by TO. Returns a new string. */
static char *
replace_all (const char *text, const char *from, const char *to)
{
    size_t fl = strlen (from), tl = strlen (to), n = 0;
    for (const char *p = text; (p = strstr (p, from)); p += fl)
        n++;
    char *out = malloc (strlen (text) + n * (tl > fl ? tl - fl : 0) + 1), *q = out;
    assert_non_null (out);
    for (const char *p = text;;) {
        const char *hit = strstr (p, from);
        if (!hit) {
            strcpy (q, p);
            break;
        }
        memcpy (q, p, (size_t) (hit - p));
        q += hit - p;
        memcpy (q, to, tl);
        q += tl;
        p = hit + fl;
    }
    return out;
}

static char *
slurp (const char *path)
{
    vb_error_t err = { 0 };
    char *text = vb_read_file (path, 1 << 20, NULL, &err);
    if (!text)
        fail_msg ("cannot read %s: %s", path, err.message);
    return text;
}

/*  Run ARGV (no shell), with stdout to OUT (may be NULL). Returns the exit status or -1. */
static int
spawn_wait (char *const argv[], char *out, size_t outlen)
{
    int pipefd[2];
    posix_spawn_file_actions_t fa;
    pid_t pid;
    if (pipe (pipefd) < 0)
        return -1;
    posix_spawn_file_actions_init (&fa);
    posix_spawn_file_actions_adddup2 (&fa, pipefd[1], 1);
    posix_spawn_file_actions_addclose (&fa, pipefd[0]);
    int rc = posix_spawnp (&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy (&fa);
    close (pipefd[1]);
    size_t len = 0;
    ssize_t n;
    char sink[256];
    while ((n = read (pipefd[0], out && len + 1 < outlen ? out + len : sink,
                      out && len + 1 < outlen ? outlen - len - 1 : sizeof sink)) > 0)
        if (out && len + 1 < outlen)
            len += (size_t) n;
    close (pipefd[0]);
    if (out)
        out[len] = '\0';
    if (rc != 0)
        return -1;
    int status;
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static void
make_parent_dir (const char *path)
{
    char dir[4096];
    vb_error_t err = { 0 };
    snprintf (dir, sizeof dir, "%s", path);
    char *slash = strrchr (dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (vb_mkdir_p (dir, 0755, &err) < 0)
            fail_msg ("%s", err.message);
    }
}

static void
make_file_image (const vb_disk_def_t *disk)
{
    struct stat st;
    if (stat (disk->source, &st) == 0)
        return;
    make_parent_dir (disk->source);
    if (disk->format == VB_DISK_FORMAT_QCOW2) {
        char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", disk->source, "16M", NULL };
        assert_int_equal (spawn_wait (argv, NULL, 0), 0);
    } else {
        int fd = open (disk->source, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true (fd >= 0);
        assert_int_equal (ftruncate (fd, 16 << 20), 0);
        close (fd);
    }
}

static void
make_block_device (tcase_t *tc, const vb_disk_def_t *disk)
{
    char backing[128], out[64];
    assert_true (tc->nloops < MAX_LOOPS);
    snprintf (backing, sizeof backing, "%s/loop%d.img", tc->dir, tc->nloops);
    int fd = open (backing, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true (fd >= 0);
    assert_int_equal (ftruncate (fd, 16 << 20), 0);
    close (fd);
    char *argv[] = { "losetup", "-f", "--show", backing, NULL };
    assert_int_equal (spawn_wait (argv, out, sizeof out), 0);
    out[strcspn (out, "\n")] = '\0';
    assert_true (strncmp (out, "/dev/loop", 9) == 0);
    snprintf (tc->loops[tc->nloops++], sizeof tc->loops[0], "%s", out);  /* teardown detaches */
    make_parent_dir (disk->source);
    assert_int_equal (symlink (out, disk->source), 0);
}

static int
setup (void **state)
{
    tcase_t *tc = calloc (1, sizeof *tc);
    if (!tc)
        return -1;
    tc->name = *state;
    tc->pid = -1;
    tc->qmp = -1;
    snprintf (tc->dir, sizeof tc->dir, "/tmp/vbqa-XXXXXX");
    if (!mkdtemp (tc->dir)) {
        free (tc);
        return -1;
    }
    *state = tc;
    return 0;
}

static int
teardown (void **state)
{
    tcase_t *tc = *state;
    if (tc->qmp >= 0)
        close (tc->qmp);
    if (tc->pid > 0) {
        kill (tc->pid, SIGKILL);
        waitpid (tc->pid, NULL, 0);
    }
    for (int i = 0; i < tc->nloops; i++) {
        char *argv[] = { "losetup", "-d", tc->loops[i], NULL };
        spawn_wait (argv, NULL, 0);
    }
    char *argv[] = { "rm", "-rf", tc->dir, NULL };
    spawn_wait (argv, NULL, 0);
    free (tc);
    return 0;
}

static void
fail_with_log (const tcase_t *tc, const char *what)
{
    char path[128], *log;
    snprintf (path, sizeof path, "%s/%s.log", tc->dir, tc->name);
    log = vb_read_file (path, 1 << 16, NULL, NULL);
    fail_msg ("%s: %s; QEMU log:\n%s", tc->name, what, log ? log : "(none)");
}

/*  Read one JSON object (one line) from the QMP socket, skipping events. */
static json_object *
qmp_read (tcase_t *tc)
{
    static char buf[1 << 16];
    for (;;) {
        size_t len = 0;
        for (;;) {
            if (len + 1 >= sizeof buf)
                fail_msg ("%s: QMP line too long", tc->name);
            ssize_t n = read (tc->qmp, buf + len, 1);
            if (n <= 0)
                fail_with_log (tc, "QMP socket closed or timed out");
            if (buf[len++] == '\n')
                break;
        }
        buf[len] = '\0';
        json_object *obj = json_tokener_parse (buf);
        if (!obj)
            fail_msg ("%s: QMP sent non-JSON: %s", tc->name, buf);
        if (!json_object_object_get_ex (obj, "event", NULL))
            return obj;
        json_object_put (obj);
    }
}

/*  Execute CMD; returns the "return" member (new reference). */
static json_object *
qmp_execute (tcase_t *tc, const char *cmd)
{
    char line[256];
    int n = snprintf (line, sizeof line, "{\"execute\":\"%s\"}\n", cmd);
    assert_int_equal (write (tc->qmp, line, (size_t) n), n);
    json_object *reply = qmp_read (tc), *ret;
    if (!json_object_object_get_ex (reply, "return", &ret))
        fail_msg ("%s: %s answered %s", tc->name, cmd, json_object_to_json_string (reply));
    json_object_get (ret);
    json_object_put (reply);
    return ret;
}

static void
qmp_connect (tcase_t *tc, const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    assert_true (strlen (path) < sizeof addr.sun_path);
    strcpy (addr.sun_path, path);
    int64_t deadline = vb_now_ms () + START_TIMEOUT_MS;
    for (;;) {
        int status;
        if (waitpid (tc->pid, &status, WNOHANG) == tc->pid) {
            tc->pid = -1;
            fail_with_log (tc, "QEMU exited before its QMP socket appeared");
        }
        int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true (fd >= 0);
        if (connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0) {
            struct timeval tv = { .tv_sec = QMP_TIMEOUT_S };
            setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            tc->qmp = fd;
            return;
        }
        close (fd);
        if (vb_now_ms () > deadline)
            fail_with_log (tc, "QMP socket did not accept a connection in time");
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        nanosleep (&ts, NULL);
    }
}

/*  Depth of the backing-image nesting of node NODE in a query-named-block-nodes reply; -1 when the
 *  node is absent. */
static int
backing_depth (json_object *nodes, const char *node)
{
    for (size_t i = 0; i < json_object_array_length (nodes); i++) {
        json_object *n = json_object_array_get_idx (nodes, i), *v, *img;
        if (!json_object_object_get_ex (n, "node-name", &v)
            || strcmp (json_object_get_string (v), node) != 0)
            continue;
        int depth = 0;
        if (!json_object_object_get_ex (n, "image", &img))
            return 0;
        while (json_object_object_get_ex (img, "backing-image", &img))
            depth++;
        return depth;
    }
    return -1;
}

static void
run_case (void **state)
{
    tcase_t *tc = *state;
    char path[256], qmp[128], pidfile[128], logpath[128];
    vb_error_t err = { 0 };

    snprintf (path, sizeof path, "%s/%s.xml", GOLDEN_DIR, tc->name);
    char *raw = slurp (path);
    char *xml = replace_all (raw, "/VBTMP", tc->dir);
    free (raw);
    int kfd = open ("/dev/kvm", O_RDWR | O_CLOEXEC);
    bool rewritten = false;
    if (kfd >= 0) {
        close (kfd);
    } else if (strstr (xml, "<domain type='kvm'>")) {
        char *tcg = replace_all (xml, "<domain type='kvm'>", "<domain type='qemu'>");
        free (xml);
        xml = tcg;
        rewritten = true;
    }
    vb_domain_def_t *def = vb_domxml_parse (xml, strlen (xml), &err);
    free (xml);
    if (!def)
        fail_msg ("%s: %s", tc->name, err.message);

    snprintf (path, sizeof path, "%s/%s.setup", GOLDEN_DIR, tc->name);
    if (access (path, R_OK) == 0) {
        char env[96];
        snprintf (env, sizeof env, "VBTMP=%s", tc->dir);
        char *argv[] = { "env", env, "sh", "-e", path, NULL };
        assert_int_equal (spawn_wait (argv, NULL, 0), 0);
    }
    for (size_t i = 0; i < def->ndisks; i++) {
        if (!def->disks[i].source)
            continue;
        if (def->disks[i].type == VB_DISK_TYPE_BLOCK)
            make_block_device (tc, &def->disks[i]);
        else
            make_file_image (&def->disks[i]);
    }

    snprintf (qmp, sizeof qmp, "%s/%s.qmp", tc->dir, tc->name);
    snprintf (pidfile, sizeof pidfile, "%s/%s.pid", tc->dir, tc->name);
    qemu_command_paths_t paths = { .qmp_socket = qmp, .pidfile = pidfile };
    char **argv = qemu_command_build (def, &paths, &err);
    if (!argv)
        fail_msg ("%s: %s", tc->name, err.message);
    if (!rewritten) {
        snprintf (path, sizeof path, "%s/%s.args", GOLDEN_DIR, tc->name);
        char *golden = slurp (path);
        char *want = replace_all (golden, "/VBTMP", tc->dir);
        free (golden);
        size_t i = 0;
        char *save = NULL;
        for (char *l = strtok_r (want, "\n", &save); l; l = strtok_r (NULL, "\n", &save), i++)
            if (!argv[i] || strcmp (argv[i], l) != 0)
                fail_msg ("%s: argument %zu differs from the golden", tc->name, i);
        assert_null (argv[i]);
        free (want);
    }

    snprintf (logpath, sizeof logpath, "%s/%s.log", tc->dir, tc->name);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init (&fa);
    posix_spawn_file_actions_addopen (&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen (&fa, 1, logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2 (&fa, 1, 2);
    int rc = posix_spawn (&tc->pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy (&fa);
    qemu_command_free (&argv);
    if (rc != 0) {
        tc->pid = -1;
        fail_msg ("%s: cannot start QEMU: %s", tc->name, strerror (rc));
    }

    qmp_connect (tc, qmp);
    json_object *greeting = qmp_read (tc);
    assert_true (json_object_object_get_ex (greeting, "QMP", NULL));
    json_object_put (greeting);
    json_object_put (qmp_execute (tc, "qmp_capabilities"));
    json_object *status = qmp_execute (tc, "query-status"), *v;
    assert_true (json_object_object_get_ex (status, "status", &v));
    assert_string_equal (json_object_get_string (v), "prelaunch");  /* -S: stopped before boot */
    assert_true (json_object_object_get_ex (status, "running", &v));
    assert_false (json_object_get_boolean (v));
    json_object_put (status);
    assert_int_equal (kill (tc->pid, 0), 0);

    char *pidtext = slurp (pidfile);
    assert_int_equal (atoi (pidtext), tc->pid);
    free (pidtext);

    json_object *nodes = qmp_execute (tc, "query-named-block-nodes");
    for (size_t i = 0; i < def->ndisks; i++) {
        const vb_disk_def_t *disk = &def->disks[i];
        char node[64];
        snprintf (node, sizeof node, "vb-%s-format", disk->target_dev);
        if (!disk->source) {
            assert_int_equal (backing_depth (nodes, node), -1);
            continue;
        }
        vb_image_chain_t *chain = vb_image_chain_new (
            disk->source, disk->format == VB_DISK_FORMAT_QCOW2 ? VB_IMAGE_FORMAT_QCOW2
                                                               : VB_IMAGE_FORMAT_RAW, &err);
        if (!chain)
            fail_msg ("%s: %s", tc->name, err.message);
        assert_int_equal (backing_depth (nodes, node), (int) chain->nlayers - 1);
        vb_image_chain_destroy (&chain);
    }
    json_object_put (nodes);
    vb_domain_def_free (&def);

    json_object_put (qmp_execute (tc, "quit"));
    int64_t deadline = vb_now_ms () + EXIT_TIMEOUT_MS;
    while (waitpid (tc->pid, NULL, WNOHANG) == 0) {
        if (vb_now_ms () > deadline) {
            kill (tc->pid, SIGKILL);
            waitpid (tc->pid, NULL, 0);
            break;
        }
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep (&ts, NULL);
    }
    tc->pid = -1;
}

#define CASE(n) { "qemu_argv_starts_" n, run_case, setup, teardown, (void *) n }

int
main (void)
{
    const struct CMUnitTest tests[] = {
        CASE ("minimal-kvm"),
        CASE ("minimal-tcg"),
        CASE ("disk-chain-qcow2-raw"),
        CASE ("disk-block"),
        CASE ("disk-sata-scsi-cdrom"),
        CASE ("disk-readonly"),
        CASE ("disk-serial"),
        CASE ("net-user"),
        CASE ("serial-pty"),
        CASE ("serial-console-pty"),
        CASE ("console-pty"),
        CASE ("on-reboot-destroy"),
        CASE ("path-comma"),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
