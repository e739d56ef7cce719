; idle guest: halt with interrupts off (vb_guest_idle)
bits 16
org 0x7c00
halt:
    cli
    hlt
    jmp halt
times 510 - ($ - $$) db 0
dw 0xAA55
