/* vb_client — to be written (see vb_client.h). */
