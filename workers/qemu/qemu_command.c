/* qemu_command — to be written. */
