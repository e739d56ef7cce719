/*  vb_guest — boot-sector guests. See vb_guest.h.
 *
 *  The byte arrays below were assembled with `nasm -f bin` (org 0x7c00, bits 16) while writing
 *  them; the source is the comment beside each line, so the bytes can be checked by hand. Offsets
 *  are from the start of the sector (load address 0x7c00).
 */
#include "vb_guest.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static void
s_sector (uint8_t sector[VB_GUEST_SECTOR_SIZE], const uint8_t *code, size_t len)
{
    memset (sector, 0, VB_GUEST_SECTOR_SIZE);
    memcpy (sector, code, len);
    sector[510] = 0x55;     /* boot signature: SeaBIOS refuses a sector without it */
    sector[511] = 0xAA;
}

void
vb_guest_idle (uint8_t sector[VB_GUEST_SECTOR_SIZE])
{
    static const uint8_t code[] = {
        0xFA,               /* 00  halt: cli                                               */
        0xF4,               /* 01        hlt         ; only an NMI or SMI could wake it     */
        0xEB, 0xFC,         /* 02        jmp halt                                          */
    };
    s_sector (sector, code, sizeof code);
}

void
vb_guest_poweroff (uint8_t sector[VB_GUEST_SECTOR_SIZE])
{
    /*  Verified on these machines (DESIGN §7): QMP SHUTDOWN {"guest": true, "reason":
     *  "guest-shutdown"}. */
    static const uint8_t code[] = {
        0xBA, 0x04, 0x06,   /* 00  mov dx, 0x604     ; PM1a_CNT                             */
        0xB8, 0x00, 0x20,   /* 03  mov ax, 0x2000    ; SLP_EN | SLP_TYP 0 (S5 on QEMU)      */
        0xEF,               /* 06  out dx, ax                                              */
        0xFA,               /* 07  cli                                                     */
        0xF4,               /* 08  hlt                                                     */
        0xEB, 0xFD,         /* 09  jmp $-1       ; back to hlt                             */
    };
    s_sector (sector, code, sizeof code);
}

void
vb_guest_suspend (uint8_t sector[VB_GUEST_SECTOR_SIZE])
{
    /*  Seen on this machine's QEMU 7.2 (q35, KVM): QMP SUSPEND about 2.5 s after start
     *  (SeaBIOS boot), then WAKEUP right after a system_wakeup. */
    static const uint8_t code[] = {
        0xBA, 0x04, 0x06,   /* 00  mov dx, 0x604     ; PM1a_CNT                             */
        0xB8, 0x00, 0x24,   /* 03  mov ax, 0x2400    ; SLP_EN | SLP_TYP 1 (S3 on QEMU)      */
        0xEF,               /* 06  out dx, ax                                              */
        0xFA,               /* 07  cli                                                     */
        0xF4,               /* 08  hlt                                                     */
        0xEB, 0xFD,         /* 09  jmp $-1       ; back to hlt                             */
    };
    s_sector (sector, code, sizeof code);
}

void
vb_guest_power_button (uint8_t sector[VB_GUEST_SECTOR_SIZE])
{
    static const uint8_t code[] = {
        0xFA,               /* 00        cli                                               */
        0xBA, 0x02, 0x06,   /* 01        mov dx, 0x602     ; PM1a_EN                        */
        0xB8, 0x00, 0x01,   /* 04        mov ax, 0x100     ; PWRBTN_EN                      */
        0xEF,               /* 07        out dx, ax                                        */
        0xBA, 0x00, 0x06,   /* 08  poll: mov dx, 0x600     ; PM1a_STS                       */
        0xED,               /* 0B        in ax, dx                                         */
        0xA9, 0x00, 0x01,   /* 0C        test ax, 0x100    ; PWRBTN_STS                     */
        0x75, 0x04,         /* 0F        jnz off                                           */
        0xFB,               /* 11        sti               ; the BIOS timer tick wakes hlt   */
        0xF4,               /* 12        hlt                                               */
        0xEB, 0xF3,         /* 13        jmp poll                                          */
        0xBA, 0x04, 0x06,   /* 15  off:  mov dx, 0x604     ; PM1a_CNT                       */
        0xB8, 0x00, 0x20,   /* 18        mov ax, 0x2000    ; SLP_EN, S5                     */
        0xEF,               /* 1B        out dx, ax                                        */
        0xFA,               /* 1C        cli                                               */
        0xF4,               /* 1D        hlt                                               */
        0xEB, 0xFC,         /* 1E        jmp $-2                                           */
    };
    s_sector (sector, code, sizeof code);
}

/*  Offsets of the patched operands in the disk I/O guest. */
#define IO_READS_AT     0x0E    /* imm16 of `mov cx, READS` */
#define IO_WRITES_AT    0x27    /* imm16 of `mov cx, WRITES` */
#define IO_POWEROFF_AT  0x41    /* imm8 of `mov al, POWEROFF` */

int
vb_guest_disk_io (uint8_t sector[VB_GUEST_SECTOR_SIZE], unsigned reads, unsigned writes,
                  bool poweroff, vb_error_t *err)
{
    if (reads > VB_GUEST_IO_MAX || writes > VB_GUEST_IO_MAX)
        return vb_error_set (err, VB_ERR_INVALID_ARG, "a disk I/O guest does at most %u reads "
                             "and %u writes, not %u and %u", VB_GUEST_IO_MAX, VB_GUEST_IO_MAX,
                             reads, writes);
    /*  One sector per int 13h call, so each call is one virtio-blk request and moves the QMP
     *  counters by exactly one operation and 512 bytes. The disk address packets (DAP) sit at
     *  0x54 and 0x64; each call advances its packet's LBA. */
    static const uint8_t code[] = {
        0xFA,                   /* 00         cli                                          */
        0x31, 0xC0,             /* 01         xor ax, ax                                   */
        0x8E, 0xD8,             /* 03         mov ds, ax      ; DS:SI -> DAP                */
        0x8E, 0xC0,             /* 05         mov es, ax                                   */
        0x8E, 0xD0,             /* 07         mov ss, ax                                   */
        0xBC, 0x00, 0x7C,       /* 09         mov sp, 0x7c00                               */
        0xFB,                   /* 0C         sti                                          */
        0xB9, 0x00, 0x00,       /* 0D         mov cx, READS   ; patched                     */
        0xE3, 0x14,             /* 10  rloop: jcxz rdone                                   */
        0x51,                   /* 12         push cx                                      */
        0xBE, 0x54, 0x7C,       /* 13         mov si, dap_read                             */
        0xB4, 0x42,             /* 16         mov ah, 0x42    ; extended read               */
        0xB2, 0x81,             /* 18         mov dl, 0x81    ; second BIOS disk            */
        0xCD, 0x13,             /* 1A         int 0x13                                     */
        0x59,                   /* 1C         pop cx                                       */
        0x72, 0x2E,             /* 1D         jc halt                                      */
        0xFF, 0x06, 0x5C, 0x7C, /* 1F         inc word [dap_read + 8]   ; next LBA          */
        0x49,                   /* 23         dec cx                                       */
        0xEB, 0xEA,             /* 24         jmp rloop                                    */
        0xB9, 0x00, 0x00,       /* 26  rdone: mov cx, WRITES  ; patched                     */
        0xE3, 0x15,             /* 29  wloop: jcxz wdone                                   */
        0x51,                   /* 2B         push cx                                      */
        0xBE, 0x64, 0x7C,       /* 2C         mov si, dap_write                            */
        0xB8, 0x00, 0x43,       /* 2F         mov ax, 0x4300  ; extended write, no verify   */
        0xB2, 0x81,             /* 32         mov dl, 0x81                                 */
        0xCD, 0x13,             /* 34         int 0x13                                     */
        0x59,                   /* 36         pop cx                                       */
        0x72, 0x14,             /* 37         jc halt                                      */
        0xFF, 0x06, 0x6C, 0x7C, /* 39         inc word [dap_write + 8]  ; next LBA          */
        0x49,                   /* 3D         dec cx                                       */
        0xEB, 0xE9,             /* 3E         jmp wloop                                    */
        0xB0, 0x00,             /* 40  wdone: mov al, POWEROFF ; patched                    */
        0x84, 0xC0,             /* 42         test al, al                                  */
        0x74, 0x07,             /* 44         jz halt                                      */
        0xBA, 0x04, 0x06,       /* 46         mov dx, 0x604   ; PM1a_CNT                    */
        0xB8, 0x00, 0x20,       /* 49         mov ax, 0x2000  ; SLP_EN, S5                  */
        0xEF,                   /* 4C         out dx, ax                                   */
        0xFA,                   /* 4D  halt:  cli                                          */
        0xF4,                   /* 4E         hlt                                          */
        0xEB, 0xFC,             /* 4F         jmp halt                                     */
        0x90, 0x90, 0x90,       /* 51         align 4                                      */
        0x10, 0x00,             /* 54  dap_read:  size 16, reserved                        */
        0x01, 0x00,             /* 56             1 sector                                 */
        0x00, 0x80, 0x00, 0x00, /* 58             buffer 0000:8000                         */
        VB_GUEST_IO_READ_LBA, 0, 0, 0, 0, 0, 0, 0,   /* 5C  LBA (qword)                     */
        0x10, 0x00,             /* 64  dap_write: size 16, reserved                        */
        0x01, 0x00,             /* 66             1 sector                                 */
        0x00, 0x80, 0x00, 0x00, /* 68             buffer 0000:8000                         */
        VB_GUEST_IO_WRITE_LBA, 0, 0, 0, 0, 0, 0, 0,  /* 6C  LBA (qword)                     */
    };
    _Static_assert (sizeof code == 0x74, "disk I/O guest layout changed: fix the offsets");
    s_sector (sector, code, sizeof code);
    sector[IO_READS_AT] = (uint8_t) (reads & 0xFF);
    sector[IO_READS_AT + 1] = (uint8_t) (reads >> 8);
    sector[IO_WRITES_AT] = (uint8_t) (writes & 0xFF);
    sector[IO_WRITES_AT + 1] = (uint8_t) (writes >> 8);
    sector[IO_POWEROFF_AT] = poweroff ? 1 : 0;
    return 0;
}

int
vb_guest_write_image (const char *path, const uint8_t *sector, size_t size, vb_error_t *err)
{
    if (size < VB_GUEST_SECTOR_SIZE)
        return vb_error_set (err, VB_ERR_INVALID_ARG, "disk image %s: %zu bytes is less than "
                             "one sector", path, size);
    int rc = -1;
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot create disk image %s: %s", path,
                      strerror (errno));
        goto cleanup;
    }
    if (sector && write (fd, sector, VB_GUEST_SECTOR_SIZE) != VB_GUEST_SECTOR_SIZE) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot write disk image %s: %s", path,
                      strerror (errno));
        goto cleanup;
    }
    if (ftruncate (fd, (off_t) size) != 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot size disk image %s: %s", path,
                      strerror (errno));
        goto cleanup;
    }
    rc = 0;

cleanup:
    if (fd >= 0 && close (fd) != 0 && rc == 0)
        rc = vb_error_set (err, VB_ERR_INTERNAL, "cannot write disk image %s: %s", path,
                           strerror (errno));
    return rc;
}
