/* test_driver — to be written. */
