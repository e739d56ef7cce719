/* vb_image — to be written (see vb_image.h). */
