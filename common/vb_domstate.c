/* vb_domstate — to be written (see vb_domstate.h). */
