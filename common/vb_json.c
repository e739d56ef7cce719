/* vb_json — to be written (see vb_json.h). */
