/*  virtbus-test — the in-memory test-double worker (see test_driver.h). Not a hypervisor. */
#include "test_driver.h"
#include "vb_worker.h"

int
main (int argc, char **argv)
{
    return vb_worker_main (argc, argv, &test_driver);
}
