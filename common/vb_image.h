/*  vb_image — a disk image's backing chain read from disk, without QEMU.
 *
 *  A shut-off domain has no QEMU to ask, yet `domstats --block --backing` and the offline checks
 *  of issue 4 must still report every layer of a disk (DESIGN §4, libvirt-spec §2.2). This module
 *  opens the top image, reads its qcow2 header (raw images have none), follows the backing file
 *  name the way QEMU resolves it, and repeats down to the bottom of the chain. For each layer it
 *  records the path, the format, the virtual size and what fstat/lseek say about the file or
 *  block device. It never writes, never locks and never runs QEMU, so it is safe on images a
 *  running QEMU holds (the numbers may then be a moment old).
 *
 *  Format rules, as QEMU applies them:
 *    - a declared format (the domain's <driver type>, or the backing-format header extension
 *      0xE2792ACA of the layer above) is believed: a layer declared raw is raw even if its first
 *      bytes look like a qcow2 header (a guest can write those bytes into a raw disk), and a layer
 *      declared qcow2 without the qcow2 magic is an error;
 *    - without a declaration the format is probed: qcow2 by the magic "QFI\xfb", raw otherwise.
 *  Backing names: an absolute name is used as is; a relative name is relative to the directory
 *  of the layer that names it (QEMU's path_combine: the text of the layer's path up to its last
 *  '/', not a canonicalised path); a "file:" prefix is stripped. Protocol names ("nbd://...",
 *  "json:{...}") are not files and answer UNSUPPORTED.
 *
 *  Header checks are strict: version 2 or 3, cluster_bits 9..21, a v3 header_length of at least
 *  104 bytes and at most one cluster, a backing name offset inside the first cluster and inside
 *  the file, a backing name of at most 1023 bytes without NUL bytes, header extensions walked
 *  inside their area with a bounded count, a backing-format name shorter than 16 bytes, no unknown
 *  incompatible feature bits. A chain longer than VB_IMAGE_CHAIN_MAX_DEPTH backing layers or one
 *  that names a file already in the chain (same device and inode) is refused.
 *
 *  Usage:
 *      vb_image_chain_t *chain = vb_image_chain_new ("/var/lib/vm/top.qcow2",
 *                                                    VB_IMAGE_FORMAT_QCOW2, &err);
 *      for (size_t i = 0; chain && i < chain->nlayers; i++)
 *          use (chain->layers[i].path, chain->layers[i].virtual_size);  // i = backing depth
 *      vb_image_chain_destroy (&chain);
 */
#ifndef VB_IMAGE_H
#define VB_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vb_error.h"

/*  The most backing layers below the top image a chain may have (QEMU itself stops near 1000;
 *  libvirt's own limit is 200; real chains are a handful deep). */
#define VB_IMAGE_CHAIN_MAX_DEPTH 64

/*  Longest backing file name a qcow2 header may carry (QEMU's limit). */
#define VB_IMAGE_BACKING_NAME_MAX 1023

typedef enum {
    VB_IMAGE_FORMAT_AUTO = 0,  /* probe: qcow2 by magic, raw otherwise (input only) */
    VB_IMAGE_FORMAT_RAW,
    VB_IMAGE_FORMAT_QCOW2,
    VB_IMAGE_FORMAT_LAST
} vb_image_format_t;

/*  One layer. Index i in the chain's array is the layer's depth: 0 = the disk's own image,
 *  1 = its first backing file, ... (the backingIndex of DESIGN §4). */
typedef struct {
    char *path;                /* the file or device opened; never NULL */
    vb_image_format_t format;  /* RAW or QCOW2, never AUTO */
    uint64_t virtual_size;     /* qcow2: header size; raw: = physical */
    uint64_t physical;         /* file: st_size; block device: lseek(SEEK_END) */
    uint64_t allocation;       /* file: st_blocks * 512; block device: 0 (DESIGN §4) */
    bool is_block;             /* a block device (S_ISBLK) */
    char *backing_name;        /* the name as written in the header; NULL when none */
    vb_image_format_t backing_format;  /* from the header extension; AUTO when absent */
} vb_image_layer_t;

typedef struct {
    vb_image_layer_t *layers;  /* nlayers entries, top first; never NULL in a chain */
    size_t nlayers;            /* >= 1 */
} vb_image_chain_t;

/*  Read the chain that starts at PATH. DECLARED is the format the definition gives for the top
 *  image (AUTO to probe). Returns a new chain (free with vb_image_chain_destroy), or NULL with
 *  ERR: INVALID_ARG for a bad argument; OPERATION_FAILED naming the file for one that cannot be
 *  opened or read, a missing backing file, a corrupt or truncated header, a loop or a chain too
 *  deep; UNSUPPORTED for a backing name that is not a local file. */
vb_image_chain_t *vb_image_chain_new (const char *path, vb_image_format_t declared,
                                      vb_error_t *err);

/*  Destroy a chain and set *SELF_P to NULL. Safe on NULL. */
void vb_image_chain_destroy (vb_image_chain_t **self_p);

/*  The sizes of one layer's file as a chain reports them: *PHYSICAL = st_size (a block device:
 *  lseek(SEEK_END)), *ALLOCATION = st_blocks x 512 (a block device: 0). The header is not read.
 *  Returns 0, or -1 with ERR (OPERATION_FAILED naming the file, INVALID_ARG). */
int vb_image_file_sizes (const char *path, uint64_t *physical, uint64_t *allocation,
                         vb_error_t *err);

/*  Resolve backing NAME named by the image at LAYER_PATH as QEMU does (see above). Returns a new
 *  string (caller frees), or NULL with ERR (UNSUPPORTED for a protocol name, INTERNAL on
 *  allocation failure). */
char *vb_image_resolve_backing (const char *layer_path, const char *name, vb_error_t *err);

/*  "raw", "qcow2", "auto"; "unknown" out of range. */
const char *vb_image_format_name (vb_image_format_t format);

/*  Look up a format name ("raw", "qcow2"). Returns 0 and sets *OUT, or -1 for any other name. */
int vb_image_format_from_name (const char *name, vb_image_format_t *out);

#endif
