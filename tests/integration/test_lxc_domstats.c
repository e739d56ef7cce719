/*  LXC worker stats check (issue 6, "Checks" 2): domstats of a real container from its cgroups.
 *
 *  One busybox container with a 256 MiB limit and a hostdev loop device (made by the test,
 *  detached at teardown). Its init waits for a /go file the test puts in its rootfs, then
 *  writes 32 MiB to its /dev/shm tmpfs (charged to its memory cgroup), writes 8 MiB to the loop
 *  device with O_DIRECT, touches /done and spins. Checked: balloon.current under the limit and
 *  grown by the 32 MiB; balloon.maximum = the limit; the hostdev's block entry named by its path
 *  with wr.bytes >= 8 MiB; cpu.time growing while it spins; and `vbsh domstats` prints them.
 */
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

#include "test_lxc_support.h"
#include "vb_domstate.h"
#include "vb_testcall.h"
#include "vb_testenv.h"

static char s_loop[64];

static int
s_setup (void **state)
{
    vb_testenv_t *env = vb_testenv_new ("lxc_stats", 0);
    if (!env)
        return -1;
    *state = env;
    return 0;
}

static int
s_teardown (void **state)
{
    vb_testenv_t *env = *state;
    lt_cleanup (env, s_loop);
    s_loop[0] = '\0';
    int rc = vb_testenv_stop (env);
    vb_testenv_destroy (&env);
    return rc;
}

typedef struct {
    const char *path;
} s_file_t;

static bool
s_exists (void *arg)
{
    return access (((s_file_t *) arg)->path, F_OK) == 0;
}

typedef struct {
    vb_client_t *client;
    uint64_t above;
} s_cpu_t;

static bool
s_cpu_grew (void *arg)
{
    s_cpu_t *c = arg;
    return lt_stat (c->client, "s1", "cpu-total", "cpu.time") > c->above;
}

static void
test_lxc_stats_cpu_balloon_and_hostdev_block_from_cgroups (void **state)
{
    vb_testenv_t *env = *state;
    char cmd[4096], path[1024], devices[512];

    snprintf (path, sizeof path, "%s/disk.img", vb_testenv_dir (env));
    snprintf (cmd, sizeof cmd, "truncate -s 16M %s", path);
    lt_sh (cmd);
    snprintf (cmd, sizeof cmd, "losetup -f --show %s", path);
    FILE *p = popen (cmd, "r");
    assert_non_null (p);
    assert_non_null (fgets (s_loop, sizeof s_loop, p));
    pclose (p);
    s_loop[strcspn (s_loop, "\n")] = '\0';
    assert_int_equal (strncmp (s_loop, "/dev/loop", 9), 0);

    assert_non_null (vb_testenv_start_broker (env));
    assert_non_null (vb_testenv_start_worker (env, "virtbus-lxc", "h1", NULL));
    vb_client_t *client = vb_testenv_client (env);
    snprintf (devices, sizeof devices,
              "    <hostdev mode='capabilities' type='storage'>\n"
              "      <source><block>%s</block></source>\n"
              "    </hostdev>\n", s_loop);
    char script[1024];
    snprintf (script, sizeof script,
              "while [ ! -e /go ]; do sleep 1; done; "
              "dd if=/dev/zero of=/dev/shm/fill bs=1M count=32; "
              "dd if=/dev/zero of=%s bs=1M count=8 oflag=direct; "
              "touch /done; while :; do :; done", s_loop);
    char *xml = lt_domain_xml ("s1", 256, script, devices);
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "xml", json_object_new_string (xml));
    json_object *defined = lt_call_ok (client, "domain.define", NULL, args);
    char uuid[37];
    snprintf (uuid, sizeof uuid, "%s",
              json_object_get_string (json_object_object_get (defined, "uuid")));
    json_object_put (defined);
    json_object_put (lt_call_ok (client, "domain.start", "s1", NULL));
    assert_int_equal (lt_state (client, "s1", NULL), VB_STATE_RUNNING);

    uint64_t limit_kib = 256 * 1024;
    uint64_t before = lt_stat (client, "s1", "balloon", "balloon.current");
    assert_true (before > 0 && before < limit_kib);
    assert_int_equal (lt_stat (client, "s1", "balloon", "balloon.maximum"), limit_kib);
    assert_int_equal (lt_stat (client, "s1", "block", "block.count"), 1);
    assert_int_equal (lt_stat (client, "s1", "block", "block.0.wr.bytes"), 0);

    char root[1024], go[1100];
    snprintf (root, sizeof root, "%s/containers/%s/rootfs", lt_state_dir (env), uuid);
    snprintf (go, sizeof go, "touch %s/go", root);
    lt_sh (go);
    char done[1100];
    snprintf (done, sizeof done, "%s/done", root);
    s_file_t f = { done };
    if (!vb_test_poll_until (s_exists, &f, 100, 30000, NULL))
        fail_msg ("the container did not finish its writes (no %s)", done);

    uint64_t after = lt_stat (client, "s1", "balloon", "balloon.current");
    if (!(after >= before + 30 * 1024 && after < limit_kib))
        fail_msg ("balloon.current %llu KiB after 32 MiB, %llu before, limit %llu",
                  (unsigned long long) after, (unsigned long long) before,
                  (unsigned long long) limit_kib);
    uint64_t wr = lt_stat (client, "s1", "block", "block.0.wr.bytes");
    if (wr < 8u << 20)
        fail_msg ("block.0.wr.bytes is %llu after an 8 MiB O_DIRECT write",
                  (unsigned long long) wr);
    assert_true (lt_stat (client, "s1", "block", "block.0.wr.reqs") >= 1);

    s_cpu_t c = { client, lt_stat (client, "s1", "cpu-total", "cpu.time") + 100000000ULL };
    if (!vb_test_poll_until (s_cpu_grew, &c, 100, 10000, NULL))
        fail_msg ("cpu.time did not grow by 100 ms while the container spins");

    vb_testrun_t run;
    vb_testenv_vbsh (env, &run, "domstats", "s1", NULL);
    assert_int_equal (run.exit_code, 0);
    snprintf (cmd, sizeof cmd, "  block.0.name=%s\n", s_loop);
    if (!strstr (run.out, "Domain: 's1'\n") || !strstr (run.out, "  cpu.time=")
        || !strstr (run.out, "  balloon.maximum=262144\n") || !strstr (run.out, cmd))
        fail_msg ("vbsh domstats:\n%s%s", run.out, run.err);
    vb_testrun_clear (&run);

    json_object_put (lt_call_ok (client, "domain.destroy", "s1", NULL));
    json_object_put (lt_call_ok (client, "domain.undefine", "s1", NULL));
    free (xml);
}

int
main (void)
{
    if (geteuid () != 0) {
        fprintf (stderr, "test_lxc_domstats needs root (containers, loop devices)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (
            test_lxc_stats_cpu_balloon_and_hostdev_block_from_cgroups, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
