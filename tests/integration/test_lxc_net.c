/*  LXC worker: interface stats of a veth (issue 6, Deliver 3 "interface").
 *
 *  A busybox container with <interface type='ethernet'><target dev='vbvNNNN'/></interface>: the
 *  host side of its veth has that name. The container gives its eth0 10.213.X.2/30; the test gives
 *  the host side 10.213.X.1/30 (no bridge) and pings the container with busybox's ping (the
 *  host has no iputils; busybox is what the container runs anyway). Checked: net.count = 1,
 *  net.0.name = the host-side name, the counters bracketed by the host side's /proc/net/dev read
 *  just before and just after (the container's rx is the host side's tx), at least the ping's
 *  packets and bytes in each direction, and `vbsh domstats` printing them. After destroy the
 *  veth is gone. Teardown stops the container and deletes the veth if it is still there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#define PINGS 20
#define PING_SIZE 1000

static char s_veth[16];

typedef struct {
    uint64_t rx_bytes, rx_pkts, tx_bytes, tx_pkts;
} s_dev_t;

static int
s_setup (void **state)
{
    vb_testenv_t *env = vb_testenv_new ("lxc_net", 0);
    if (!env)
        return -1;
    snprintf (s_veth, sizeof s_veth, "vbv%d", (int) getpid () % 100000);
    *state = env;
    return 0;
}

static int
s_teardown (void **state)
{
    vb_testenv_t *env = *state;
    char cmd[128];
    lt_cleanup (env, NULL);
    snprintf (cmd, sizeof cmd, "ip link show %s >/dev/null 2>&1 && ip link del %s", s_veth,
              s_veth);
    /*  Usually gone already, with the container's network namespace. */
    int ignored = system (cmd);
    (void) ignored;
    int rc = vb_testenv_stop (env);
    vb_testenv_destroy (&env);
    return rc;
}

/*  The host side's counters from /proc/net/dev; fails the test when the device is not there. */
static s_dev_t
s_proc_net_dev (const char *dev)
{
    s_dev_t d = { 0 };
    char line[512], want[32];
    bool found = false;
    snprintf (want, sizeof want, "%s:", dev);
    FILE *f = fopen ("/proc/net/dev", "r");
    assert_non_null (f);
    while (fgets (line, sizeof line, f)) {
        char *p = line + strspn (line, " ");
        if (strncmp (p, want, strlen (want)) != 0)
            continue;
        unsigned long long v[16];
        if (sscanf (p + strlen (want), "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
                    &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) == 10) {
            d.rx_bytes = v[0];
            d.rx_pkts = v[1];
            d.tx_bytes = v[8];
            d.tx_pkts = v[9];
            found = true;
        }
    }
    fclose (f);
    if (!found)
        fail_msg ("%s is not in /proc/net/dev", dev);
    return d;
}

typedef struct {
    char cmd[256];
} s_cmd_t;

static bool
s_cmd_ok (void *arg)
{
    return system (((s_cmd_t *) arg)->cmd) == 0;
}

static void
s_bracket (const char *what, uint64_t lo, uint64_t v, uint64_t hi)
{
    if (v < lo || v > hi)
        fail_msg ("%s = %llu, not within the host side's [%llu, %llu]", what,
                  (unsigned long long) v, (unsigned long long) lo, (unsigned long long) hi);
}

static void
test_lxc_net_veth_counters_match_the_host_side_and_count_the_pings (void **state)
{
    vb_testenv_t *env = *state;
    char cmd[1024], devices[256], script[512], want[128];
    int subnet = 1 + (int) (getpid () % 250);

    assert_non_null (vb_testenv_start_broker (env));
    assert_non_null (vb_testenv_start_worker (env, "virtbus-lxc", "h1", NULL));
    vb_client_t *client = vb_testenv_client (env);
    assert_non_null (client);

    snprintf (devices, sizeof devices,
              "    <interface type='ethernet'>\n"
              "      <target dev='%s'/>\n"
              "    </interface>\n", s_veth);
    snprintf (script, sizeof script,
              "ip addr add 10.213.%d.2/30 dev eth0; ip link set eth0 up; "
              "while :; do sleep 1; done", subnet);
    char *xml = lt_domain_xml ("n1", 128, script, devices);
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "xml", json_object_new_string (xml));
    json_object_put (lt_call_ok (client, "domain.define", NULL, args));
    json_object_put (lt_call_ok (client, "domain.start", "n1", NULL));
    assert_int_equal (lt_state (client, "n1", NULL), VB_STATE_RUNNING);

    /*  Before any address: the entry is there and consistent. */
    assert_int_equal (lt_stat (client, "n1", "interface", "net.count"), 1);

    snprintf (cmd, sizeof cmd, "ip addr add 10.213.%d.1/30 dev %s && ip link set %s up",
              subnet, s_veth, s_veth);
    lt_sh (cmd);
    s_cmd_t ping1;
    snprintf (ping1.cmd, sizeof ping1.cmd, "busybox ping -c 1 -W 1 10.213.%d.2 >/dev/null 2>&1",
              subnet);
    if (!vb_test_poll_until (s_cmd_ok, &ping1, 200, 15000, NULL))
        fail_msg ("the container's 10.213.%d.2 never answered a ping", subnet);

    s_dev_t start = s_proc_net_dev (s_veth);
    snprintf (cmd, sizeof cmd, "busybox ping -q -c %d -i 0.01 -s %d -W 2 10.213.%d.2 >/dev/null",
              PINGS, PING_SIZE, subnet);
    lt_sh (cmd);

    s_dev_t before = s_proc_net_dev (s_veth);
    uint64_t rx_bytes = lt_stat (client, "n1", "interface", "net.0.rx.bytes");
    uint64_t rx_pkts = lt_stat (client, "n1", "interface", "net.0.rx.pkts");
    uint64_t tx_bytes = lt_stat (client, "n1", "interface", "net.0.tx.bytes");
    uint64_t tx_pkts = lt_stat (client, "n1", "interface", "net.0.tx.pkts");
    s_dev_t after = s_proc_net_dev (s_veth);
    /*  The container receives what the host side sends. */
    s_bracket ("net.0.rx.bytes", before.tx_bytes, rx_bytes, after.tx_bytes);
    s_bracket ("net.0.rx.pkts", before.tx_pkts, rx_pkts, after.tx_pkts);
    s_bracket ("net.0.tx.bytes", before.rx_bytes, tx_bytes, after.rx_bytes);
    s_bracket ("net.0.tx.pkts", before.rx_pkts, tx_pkts, after.rx_pkts);
    /*  The pings: requests in, replies out, each over PING_SIZE bytes. */
    assert_true (rx_pkts >= start.tx_pkts + PINGS);
    assert_true (tx_pkts >= start.rx_pkts + PINGS);
    assert_true (rx_bytes >= start.tx_bytes + PINGS * PING_SIZE);
    assert_true (tx_bytes >= start.rx_bytes + PINGS * PING_SIZE);
    assert_int_equal (lt_stat (client, "n1", "interface", "net.0.rx.errs"), 0);
    assert_int_equal (lt_stat (client, "n1", "interface", "net.0.tx.errs"), 0);

    vb_testrun_t run;
    vb_testenv_vbsh (env, &run, "domstats", "n1", "--interface", NULL);
    assert_int_equal (run.exit_code, 0);
    snprintf (want, sizeof want, "  net.0.name=%s\n", s_veth);
    if (!strstr (run.out, "Domain: 'n1'\n") || !strstr (run.out, "  net.count=1\n")
        || !strstr (run.out, want) || !strstr (run.out, "  net.0.rx.bytes=")
        || !strstr (run.out, "  net.0.tx.pkts="))
        fail_msg ("vbsh domstats --interface:\n%s%s", run.out, run.err);
    vb_testrun_clear (&run);

    json_object_put (lt_call_ok (client, "domain.destroy", "n1", NULL));
    s_cmd_t gone;
    snprintf (gone.cmd, sizeof gone.cmd, "! ip link show %s >/dev/null 2>&1", s_veth);
    if (!vb_test_poll_until (s_cmd_ok, &gone, 100, 10000, NULL))
        fail_msg ("%s is still there after destroy", s_veth);
    /*  Shut off: the entry is still named, without counters. */
    assert_int_equal (lt_stat (client, "n1", "interface", "net.count"), 1);
    json_object_put (lt_call_ok (client, "domain.undefine", "n1", NULL));
    free (xml);
}

int
main (void)
{
    if (geteuid () != 0) {
        fprintf (stderr, "test_lxc_net needs root (containers, veths)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (
            test_lxc_net_veth_counters_match_the_host_side_and_count_the_pings, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
