/* vb_util — to be written (see vb_util.h). */
