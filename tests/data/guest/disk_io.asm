; disk I/O guest (vb_guest_disk_io); assemble with -DREADS=n -DWRITES=n -DPOWEROFF=0|1
bits 16
org 0x7c00
start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    sti
    mov cx, READS
read_loop:
    jcxz reads_done
    push cx
    mov si, dap_read
    mov ah, 0x42
    mov dl, 0x81
    int 0x13
    pop cx
    jc halt
    inc word [dap_read + 8]
    dec cx
    jmp read_loop
reads_done:
    mov cx, WRITES
write_loop:
    jcxz writes_done
    push cx
    mov si, dap_write
    mov ax, 0x4300
    mov dl, 0x81
    int 0x13
    pop cx
    jc halt
    inc word [dap_write + 8]
    dec cx
    jmp write_loop
writes_done:
    mov al, POWEROFF
    test al, al
    jz halt
    mov dx, 0x604
    mov ax, 0x2000
    out dx, ax
halt:
    cli
    hlt
    jmp halt
align 4
dap_read:
    db 0x10, 0
    dw 1
    dw 0x8000, 0
    dq 0
dap_write:
    db 0x10, 0
    dw 1
    dw 0x8000, 0
    dq 8
times 510 - ($ - $$) db 0
dw 0xAA55
