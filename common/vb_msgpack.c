/* vb_msgpack — to be written (see vb_msgpack.h). */
