/* vb_error — to be written (see vb_error.h). */
