/*  virtbus-lxc — the LXC worker: Linux containers through liblxc (see lxc_driver.h). */
#include "lxc_driver.h"
#include "vb_worker.h"

/*  Read by LeakSanitizer in sanitizer builds (DESIGN §7: suppressions only for third-party
 *  libraries, with a reason). liblxc 5.0.2 caches global config values (lxc.default_config and
 *  friends, strdup'ed) in thread-local storage that it never frees; every thread that calls into
 *  it (the job threads of lxc_driver.c) leaves one such string behind when it exits. */
const char *__lsan_default_suppressions (void);

const char *
__lsan_default_suppressions (void)
{
    return "leak:liblxc.so\n";
}

int
main (int argc, char **argv)
{
    return vb_worker_main (argc, argv, &lxc_driver);
}
