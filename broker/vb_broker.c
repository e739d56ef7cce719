/* vb_broker — to be written. */
