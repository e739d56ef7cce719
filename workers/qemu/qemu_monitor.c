/* qemu_monitor — to be written. */
