/*  virtbus-qemu — the QEMU/KVM worker (see qemu_driver.h). */
#include <signal.h>

#include "qemu_driver.h"
#include "vb_worker.h"

int
main (int argc, char **argv)
{
    /*  QEMU processes are watched through pidfds, never waited for: with SIGCHLD ignored the
     *  kernel reaps the ones this worker spawned, so none lingers as a zombie (which a pidfd
     *  reports as exited but /proc still lists). QEMU itself gets default dispositions
     *  (qemu_process_spawn). */
    signal (SIGCHLD, SIG_IGN);
    return vb_worker_main (argc, argv, &qemu_driver);
}
