/* vb_worker — to be written. */
