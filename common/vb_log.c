/* vb_log — to be written (see vb_log.h). */
