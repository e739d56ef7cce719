/*  vb_guest — boot-sector guests for tests that run a real QEMU.
 *
 *  Each guest is one 512-byte x86 real-mode boot sector (signature 55 AA) that SeaBIOS loads from
 *  the first boot disk to 0x7c00 and runs. They need no OS and no assembler: this module emits
 *  the bytes, with the assembly beside them in vb_guest.c. What each guest does is deterministic,
 *  so tests can assert exact QMP events and block counters:
 *    idle          cli; hlt — runs at ~0 % CPU forever
 *    poweroff      powers the machine off through ACPI PM1a_CNT (S5): QMP SHUTDOWN guest=true
 *    power_button  enables the ACPI power button and idles until it is pressed (QMP
 *                  system_powerdown), then powers off
 *    disk_io       READS single-sector reads then WRITES single-sector writes on the second BIOS
 *                  disk (DL=0x81) through int 13h extensions (AH=42h/43h), then idles or powers
 *                  off; reads start at LBA VB_GUEST_IO_READ_LBA, writes at VB_GUEST_IO_WRITE_LBA,
 *                  one sector further each call
 *  The ACPI ports (PM1a at 0x600) are where SeaBIOS puts them on QEMU's q35 machine (DESIGN §7).
 */
#ifndef VB_GUEST_H
#define VB_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vb_error.h"

#define VB_GUEST_SECTOR_SIZE 512
#define VB_GUEST_IO_READ_LBA 0      /* first sector the disk_io guest reads */
#define VB_GUEST_IO_WRITE_LBA 8     /* first sector the disk_io guest writes */
#define VB_GUEST_IO_MAX 65535       /* most reads or writes one disk_io guest can do */

/*  Fill SECTOR with the guest. */
void vb_guest_idle (uint8_t sector[VB_GUEST_SECTOR_SIZE]);
void vb_guest_poweroff (uint8_t sector[VB_GUEST_SECTOR_SIZE]);
void vb_guest_power_button (uint8_t sector[VB_GUEST_SECTOR_SIZE]);
/*  Suspends itself to RAM (ACPI S3): QMP SUSPEND; `system_wakeup` then gives WAKEUP. */
void vb_guest_suspend (uint8_t sector[VB_GUEST_SECTOR_SIZE]);

/*  Fill SECTOR with the disk I/O guest: READS reads, then WRITES writes (each one sector, each at
 *  most VB_GUEST_IO_MAX), then power off when POWEROFF, else idle. Returns 0, or -1 with ERR
 *  (INVALID_ARG) for a count out of range. */
int vb_guest_disk_io (uint8_t sector[VB_GUEST_SECTOR_SIZE], unsigned reads, unsigned writes,
                      bool poweroff, vb_error_t *err);

/*  Write a raw disk image of SIZE bytes (at least one sector) to PATH: SECTOR (may be NULL for
 *  an all-zero disk) followed by zeros (sparse). Returns 0, or -1 with ERR (INTERNAL, naming the
 *  path and errno). */
int vb_guest_write_image (const char *path, const uint8_t *sector, size_t size, vb_error_t *err);

#endif
