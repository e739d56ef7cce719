/*  virtbus-xen — the Xen worker: PV domains through libxl, in a Xen dom0 (see xen_driver.h). */
#include "vb_worker.h"
#include "xen_driver.h"

int
main (int argc, char **argv)
{
    return vb_worker_main (argc, argv, &xen_driver);
}
