/* vb_domxml — to be written (see vb_domxml.h). */
