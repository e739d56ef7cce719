; obey the ACPI power button (vb_guest_power_button)
bits 16
org 0x7c00
    cli
    mov dx, 0x602
    mov ax, 0x100
    out dx, ax
poll:
    mov dx, 0x600
    in ax, dx
    test ax, 0x100
    jnz off
    sti
    hlt
    jmp poll
off:
    mov dx, 0x604
    mov ax, 0x2000
    out dx, ax
    cli
    hlt
    jmp $-2
times 510 - ($ - $$) db 0
dw 0xAA55
