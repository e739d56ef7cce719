; power off through ACPI PM1a_CNT (vb_guest_poweroff)
bits 16
org 0x7c00
    mov dx, 0x604
    mov ax, 0x2000
    out dx, ax
    cli
    hlt
    jmp $-1
times 510 - ($ - $$) db 0
dw 0xAA55
