# vb_image: backing chains read from disk (qemu-img makes the images; losetup needs root).
vb_add_unit_test(test_image SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_image.c
                 LIBS vb_image PkgConfig::JSONC TIMEOUT 120)
