/*  Integration test of the boot-sector guests (tests/guest/vb_guest) in a real QEMU, driven through
 *  qemu_monitor on a zloop. Each test starts qemu-system-x86_64 (KVM when /dev/kvm opens
 *  read-write, else TCG — never skipped) with the guest as the first virtio disk, in its own
 *  temporary directory, and kills it by pid at the end. Every wait is bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "qemu_monitor.h"
#include "vb_guest.h"
#include "vb_json.h"
#include "vb_util.h"

#define BOOT_WAIT_MS 60000      /* SeaBIOS takes ~4.5 s under KVM; TCG is slower */
#define CMD_WAIT_MS 10000
#define MAX_EVENTS 32

typedef struct {
    char dir[64];
    char qmp_path[96];
    char log_path[96];
    pid_t pid;
    zloop_t *loop;
    qemu_monitor_t *mon;
    bool ready;
    int closed;
    char events[MAX_EVENTS][32];
    json_object *event_data[MAX_EVENTS];
    size_t nevents;
    bool replied;               /* for the command in flight */
    json_object *result;
    vb_error_t reply_err;
} vm_t;

static const char *
qemu_binary (void)
{
    const char *bin = getenv ("VB_QEMU");
    return bin && *bin ? bin : "qemu-system-x86_64";
}

static const char *
accel (void)
{
    int fd = open ("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return "tcg";
    close (fd);
    return "kvm";
}

/*  --- Monitor callbacks ----------------------------------------------------------------- */

static void
on_ready (qemu_monitor_t *mon, void *user_data)
{
    (void) mon;
    ((vm_t *) user_data)->ready = true;
}

static void
on_event (qemu_monitor_t *mon, const char *name, json_object *data, int64_t ts, void *user_data)
{
    (void) mon;
    (void) ts;
    vm_t *vm = user_data;
    if (vm->nevents < MAX_EVENTS) {
        snprintf (vm->events[vm->nevents], sizeof vm->events[0], "%s", name);
        vm->event_data[vm->nevents] = data ? json_object_get (data) : NULL;
        vm->nevents++;
    }
}

static void
on_closed (qemu_monitor_t *mon, const vb_error_t *reason, void *user_data)
{
    (void) mon;
    vm_t *vm = user_data;
    vm->closed++;
    print_message ("monitor closed: %s\n", reason->message);
}

static const qemu_monitor_callbacks_t callbacks = { on_ready, on_event, on_closed };

static void
on_reply (qemu_monitor_t *mon, json_object *result, const char *qmp_class,
          const vb_error_t *err, void *cb_data)
{
    (void) mon;
    (void) qmp_class;
    vm_t *vm = cb_data;
    vm->replied = true;
    vm->result = result ? json_object_get (result) : NULL;
    if (err)
        vm->reply_err = *err;
}

/*  --- Running the loop ---------------------------------------------------------------- */

typedef bool (predicate_fn) (vm_t *vm, const char *arg);

typedef struct {
    predicate_fn *pred;
    vm_t *vm;
    const char *arg;
    int64_t until_ns;
    bool held;
} wait_t;

static int
s_wait_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    wait_t *w = arg;
    w->held = w->pred (w->vm, w->arg);
    return w->held || vb_now_ns () >= w->until_ns ? -1 : 0;
}

/*  Run the loop until PRED holds (checked every 5 ms) or TIMEOUT_MS pass. */
static bool
run_until (vm_t *vm, predicate_fn *pred, const char *arg, int timeout_ms)
{
    if (pred (vm, arg))
        return true;
    wait_t w = { pred, vm, arg, vb_now_ns () + (int64_t) timeout_ms * 1000000, false };
    int id = zloop_timer (vm->loop, 5, 0, s_wait_tick, &w);
    assert_true (id >= 0);
    zloop_start (vm->loop);
    zloop_timer_end (vm->loop, id);
    return w.held;
}

static bool
is_ready (vm_t *vm, const char *arg)
{
    (void) arg;
    return vm->ready || vm->closed;
}

static bool
has_replied (vm_t *vm, const char *arg)
{
    (void) arg;
    return vm->replied;
}

static bool
never (vm_t *vm, const char *arg)
{
    (void) vm;
    (void) arg;
    return false;
}

static ssize_t
event_index (vm_t *vm, const char *name)
{
    for (size_t i = 0; i < vm->nevents; i++)
        if (strcmp (vm->events[i], name) == 0)
            return (ssize_t) i;
    return -1;
}

static bool
has_event (vm_t *vm, const char *name)
{
    return event_index (vm, name) >= 0;
}

/*  --- QEMU process -------------------------------------------------------------------- */

static void
vm_start (vm_t *vm, const uint8_t boot[VB_GUEST_SECTOR_SIZE], bool data_disk)
{
    memset (vm, 0, sizeof *vm);
    snprintf (vm->dir, sizeof vm->dir, "/tmp/vb-guest-it-XXXXXX");
    assert_non_null (mkdtemp (vm->dir));
    snprintf (vm->qmp_path, sizeof vm->qmp_path, "%s/qmp.sock", vm->dir);
    snprintf (vm->log_path, sizeof vm->log_path, "%s/qemu.log", vm->dir);
    char boot_img[96], data_img[96];
    snprintf (boot_img, sizeof boot_img, "%s/boot.img", vm->dir);
    snprintf (data_img, sizeof data_img, "%s/data.img", vm->dir);
    vb_error_t err = { 0 };
    assert_int_equal (vb_guest_write_image (boot_img, boot, 1 << 20, &err), 0);
    if (data_disk)
        assert_int_equal (vb_guest_write_image (data_img, NULL, 1 << 20, &err), 0);

    char machine[64], qmp[128], boot_file[160], data_file[160];
    snprintf (machine, sizeof machine, "q35,accel=%s", accel ());
    snprintf (qmp, sizeof qmp, "unix:%s,server=on,wait=off", vm->qmp_path);
    snprintf (boot_file, sizeof boot_file, "driver=file,filename=%s,node-name=boot-file",
              boot_img);
    snprintf (data_file, sizeof data_file, "driver=file,filename=%s,node-name=data-file",
              data_img);
    const char *argv[40];
    int n = 0;
    argv[n++] = qemu_binary ();
    const char *fixed[] = { "-S", "-display", "none", "-nodefaults", "-no-shutdown", "-m", "64",
                            "-machine", machine, "-qmp", qmp,
                            "-blockdev", boot_file,
                            "-blockdev", "driver=raw,file=boot-file,node-name=boot",
                            "-device", "virtio-blk-pci,drive=boot,id=vda,bootindex=1" };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        argv[n++] = fixed[i];
    if (data_disk) {
        argv[n++] = "-blockdev";
        argv[n++] = data_file;
        argv[n++] = "-blockdev";
        argv[n++] = "driver=raw,file=data-file,node-name=data";
        argv[n++] = "-device";
        argv[n++] = "virtio-blk-pci,drive=data,id=vdb";
    }
    argv[n] = NULL;

    vm->pid = fork ();
    assert_true (vm->pid >= 0);
    if (vm->pid == 0) {
        /*  A test killed half-way must not leave its QEMU running. */
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        int log = open (vm->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (log >= 0) {
            dup2 (log, STDOUT_FILENO);
            dup2 (log, STDERR_FILENO);
        }
        execvp (argv[0], (char **) argv);
        _exit (127);
    }
    /*  QEMU listens on the socket before it waits (-S). The file exists a moment before QEMU
     *  listens, so retry the connection; stop early if QEMU exits. */
    vm->loop = zloop_new ();
    assert_non_null (vm->loop);
    int64_t until = vb_now_ns () + (int64_t) CMD_WAIT_MS * 1000000;
    while (!(vm->mon = qemu_monitor_new (vm->loop, vm->qmp_path, &callbacks, vm, &err))) {
        int status;
        if (waitpid (vm->pid, &status, WNOHANG) == vm->pid) {
            vm->pid = 0;
            char *log = vb_read_file (vm->log_path, 8192, NULL, &err);
            fail_msg ("QEMU exited before its QMP socket accepted: %s", log ? log : "");
        }
        if (vb_now_ns () > until)
            fail_msg ("%s (for %d ms)", err.message, CMD_WAIT_MS);
        usleep (10000);
    }
    assert_true (run_until (vm, is_ready, NULL, CMD_WAIT_MS));
    assert_true (vm->ready);
}

static void
vm_stop (vm_t *vm)
{
    qemu_monitor_destroy (&vm->mon);
    zloop_destroy (&vm->loop);
    if (vm->pid > 0) {
        kill (vm->pid, SIGKILL);
        waitpid (vm->pid, NULL, 0);
        vm->pid = 0;
    }
    for (size_t i = 0; i < vm->nevents; i++)
        json_object_put (vm->event_data[i]);
    vm->nevents = 0;
    if (!vm->dir[0])
        return;
    const char *files[] = { "qmp.sock", "qemu.log", "boot.img", "data.img" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[128];
        snprintf (path, sizeof path, "%s/%s", vm->dir, files[i]);
        unlink (path);
    }
    rmdir (vm->dir);
    vm->dir[0] = '\0';
}

/*  Per test: the VM lives in *STATE so that a failing test still has its QEMU killed. */
static int
setup (void **state)
{
    *state = calloc (1, sizeof (vm_t));
    return *state ? 0 : -1;
}

static int
teardown (void **state)
{
    vm_stop (*state);
    free (*state);
    return 0;
}

/*  Run COMMAND and return its result (a reference the caller puts); fails the test on error. */
static json_object *
vm_command (vm_t *vm, const char *command, json_object *args)
{
    vm->replied = false;
    vm->result = NULL;
    vb_error_t err = { 0 };
    if (qemu_monitor_command (vm->mon, command, &args, CMD_WAIT_MS, on_reply, vm, &err) != 0)
        fail_msg ("%s", err.message);
    assert_true (run_until (vm, has_replied, NULL, CMD_WAIT_MS + 1000));
    if (!vm->result)
        fail_msg ("%s: %s", command, vm->reply_err.message);
    return vm->result;
}

/*  CPU time of the QEMU process (all threads) in clock ticks. */
static long
vm_cpu_ticks (vm_t *vm)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) vm->pid);
    vb_error_t err = { 0 };
    char *stat = vb_read_file (path, 4096, NULL, &err);
    assert_non_null (stat);
    /*  Fields after the command name (which may hold spaces): state is field 3, utime 14. */
    char *p = strrchr (stat, ')');
    assert_non_null (p);
    unsigned long utime = 0, stime = 0;
    assert_int_equal (sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                              &utime, &stime), 2);
    free (stat);
    return (long) (utime + stime);
}

/*  Wait until QEMU uses less than 10 % of a CPU in two 500 ms windows in a row (the guest sits in
 *  hlt; SeaBIOS spins at ~90 % while it boots). Returns the larger share of the last two windows,
 *  in percent. */
static double
vm_wait_idle (vm_t *vm, int timeout_ms)
{
    long hz = sysconf (_SC_CLK_TCK);
    int64_t until = vb_now_ns () + (int64_t) timeout_ms * 1000000;
    double share = 100.0, last = 100.0;
    int64_t start = vb_now_ns ();
    while (vb_now_ns () < until) {
        long t0 = vm_cpu_ticks (vm);
        int64_t w0 = vb_now_ns ();
        run_until (vm, never, NULL, 500);
        long t1 = vm_cpu_ticks (vm);
        int64_t w1 = vb_now_ns ();
        double now = 100.0 * ((double) (t1 - t0) / (double) hz) / ((double) (w1 - w0) / 1e9);
        share = now > last ? now : last;
        last = now;
        if (share < 10.0)
            break;
    }
    print_message ("QEMU at %.1f %% CPU over 2 x 500 ms, %.1f s after the wait began\n", share,
                   (double) (vb_now_ns () - start) / 1e9);
    return share;
}

/*  The stats of the device whose qdev path names ID ("vda"), from query-blockstats. */
static json_object *
blockstats_of (json_object *result, const char *id)
{
    char needle[32];
    snprintf (needle, sizeof needle, "/%s/", id);
    for (size_t i = 0; i < json_object_array_length (result); i++) {
        json_object *dev = json_object_array_get_idx (result, i);
        if (strstr (vb_json_str (dev, "qdev", ""), needle)) {
            json_object *stats = NULL;
            assert_true (json_object_object_get_ex (dev, "stats", &stats));
            return stats;
        }
    }
    fail_msg ("no blockstats for %s", id);
    return NULL;
}

static bool
shutdown_seen (vm_t *vm, const char *arg)
{
    (void) arg;
    return has_event (vm, "SHUTDOWN");
}

static void
assert_guest_shutdown (vm_t *vm)
{
    ssize_t i = event_index (vm, "SHUTDOWN");
    assert_true (i >= 0);
    assert_true (vb_json_bool (vm->event_data[i], "guest", false));
    assert_string_equal (vb_json_str (vm->event_data[i], "reason", ""), "guest-shutdown");
    json_object *status = vm_command (vm, "query-status", NULL);
    assert_string_equal (vb_json_str (status, "status", ""), "shutdown");
    json_object_put (status);
}

/*  --- Tests -------------------------------------------------------------------------- */

static void
test_guest_idle_runs_at_low_cpu (void **state)
{
    uint8_t sector[VB_GUEST_SECTOR_SIZE];
    vb_guest_idle (sector);
    vm_t *vm = *state;
    vm_start (vm, sector, false);
    json_object_put (vm_command (vm, "cont", NULL));
    double share = vm_wait_idle (vm, BOOT_WAIT_MS);
    assert_true (share < 10.0);
    json_object *status = vm_command (vm, "query-status", NULL);
    assert_string_equal (vb_json_str (status, "status", ""), "running");
    json_object_put (status);
    /*  SeaBIOS read the boot sector: the guest that idles is ours, not the BIOS. */
    json_object *stats = vm_command (vm, "query-blockstats", NULL);
    json_object *vda = blockstats_of (stats, "vda");
    assert_int_equal (vb_json_int (vda, "rd_operations", -1), 1);
    json_object_put (stats);
    assert_false (has_event (vm, "SHUTDOWN"));
    vm_stop (vm);
}

static void
test_guest_poweroff_shuts_down_by_itself (void **state)
{
    uint8_t sector[VB_GUEST_SECTOR_SIZE];
    vb_guest_poweroff (sector);
    vm_t *vm = *state;
    vm_start (vm, sector, false);
    int64_t t0 = vb_now_ns ();
    json_object_put (vm_command (vm, "cont", NULL));
    assert_true (run_until (vm, shutdown_seen, NULL, BOOT_WAIT_MS));
    print_message ("poweroff guest (%s): SHUTDOWN %.2f s after cont\n", accel (),
                   (double) (vb_now_ns () - t0) / 1e9);
    assert_guest_shutdown (vm);
    vm_stop (vm);
}

static void
test_guest_power_button_obeys_system_powerdown (void **state)
{
    uint8_t sector[VB_GUEST_SECTOR_SIZE];
    vb_guest_power_button (sector);
    vm_t *vm = *state;
    vm_start (vm, sector, false);
    json_object_put (vm_command (vm, "cont", NULL));
    /*  Idle means the guest reached its polling loop; it must not power off by itself. */
    double share = vm_wait_idle (vm, BOOT_WAIT_MS);
    assert_true (share < 10.0);
    assert_false (run_until (vm, shutdown_seen, NULL, 500));
    int64_t t0 = vb_now_ns ();
    json_object_put (vm_command (vm, "system_powerdown", NULL));
    assert_true (run_until (vm, shutdown_seen, NULL, CMD_WAIT_MS));
    print_message ("power-button guest (%s): SHUTDOWN %.3f s after system_powerdown\n",
                   accel (), (double) (vb_now_ns () - t0) / 1e9);
    ssize_t powerdown = event_index (vm, "POWERDOWN");
    assert_true (powerdown >= 0);
    assert_true (powerdown < event_index (vm, "SHUTDOWN"));
    assert_guest_shutdown (vm);
    vm_stop (vm);
}

static void
test_guest_disk_io_moves_second_disk_counters_exactly (void **state)
{
    const unsigned reads = 3, writes = 5;
    uint8_t sector[VB_GUEST_SECTOR_SIZE];
    vb_error_t err = { 0 };
    assert_int_equal (vb_guest_disk_io (sector, reads, writes, true, &err), 0);
    vm_t *vm = *state;
    vm_start (vm, sector, true);
    json_object *stats = vm_command (vm, "query-blockstats", NULL);
    json_object *vdb = blockstats_of (stats, "vdb");
    assert_int_equal (vb_json_int (vdb, "rd_operations", -1), 0);
    assert_int_equal (vb_json_int (vdb, "wr_operations", -1), 0);
    json_object_put (stats);

    json_object_put (vm_command (vm, "cont", NULL));
    /*  The guest powers off after its last write (-no-shutdown keeps QEMU), so the counters are
     *  final when SHUTDOWN arrives. */
    assert_true (run_until (vm, shutdown_seen, NULL, BOOT_WAIT_MS));
    assert_guest_shutdown (vm);
    stats = vm_command (vm, "query-blockstats", NULL);
    json_object *vda = blockstats_of (stats, "vda");
    vdb = blockstats_of (stats, "vdb");
    print_message ("disk I/O guest R=%u W=%u (%s): vdb rd_operations=%" PRId64 " rd_bytes=%"
                   PRId64 " wr_operations=%" PRId64 " wr_bytes=%" PRId64
                   " wr_highest_offset=%" PRId64 "; vda rd_operations=%" PRId64 " rd_bytes=%"
                   PRId64 " wr_operations=%" PRId64 "\n", reads, writes, accel (),
                   vb_json_int (vdb, "rd_operations", -1), vb_json_int (vdb, "rd_bytes", -1),
                   vb_json_int (vdb, "wr_operations", -1), vb_json_int (vdb, "wr_bytes", -1),
                   vb_json_int (vdb, "wr_highest_offset", -1),
                   vb_json_int (vda, "rd_operations", -1), vb_json_int (vda, "rd_bytes", -1),
                   vb_json_int (vda, "wr_operations", -1));
    assert_int_equal (vb_json_int (vdb, "rd_operations", -1), reads);
    assert_int_equal (vb_json_int (vdb, "rd_bytes", -1), reads * 512);
    assert_int_equal (vb_json_int (vdb, "wr_operations", -1), writes);
    assert_int_equal (vb_json_int (vdb, "wr_bytes", -1), writes * 512);
    assert_int_equal (vb_json_int (vdb, "wr_highest_offset", -1),
                      (VB_GUEST_IO_WRITE_LBA + writes) * 512);
    /*  SeaBIOS's own read of the boot sector, and nothing else, on the boot disk. */
    assert_int_equal (vb_json_int (vda, "rd_operations", -1), 1);
    assert_int_equal (vb_json_int (vda, "rd_bytes", -1), 512);
    assert_int_equal (vb_json_int (vda, "wr_operations", -1), 0);
    json_object_put (stats);
    vm_stop (vm);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_guest_idle_runs_at_low_cpu, setup, teardown),
        cmocka_unit_test_setup_teardown (test_guest_poweroff_shuts_down_by_itself, setup, teardown),
        cmocka_unit_test_setup_teardown (test_guest_power_button_obeys_system_powerdown, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_guest_disk_io_moves_second_disk_counters_exactly,
                                         setup, teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
