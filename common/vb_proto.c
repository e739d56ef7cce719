/* vb_proto — to be written (see vb_proto.h). */
