/*  vbsh_format — the text vbsh prints, as pure functions (json or structs in, a string out).
 *
 *  Every layout here is virsh 9.0's, copied from its source (tools/vsh-table.c,
 *  tools/virsh-domain-monitor.c, tools/virsh-domain-event.c) so scripts written against virsh
 *  keep working: the vsh-table padding of `list`, the `%-15s %s` lines of `dominfo`, the
 *  `Domain: 'x'` records of `domstats`, the event lines of `virsh event`. `hosts` is ours and
 *  uses the same table layout. Keeping the functions free of I/O lets the unit tests compare
 *  them with exact expected text.
 *
 *  Every function returns a new NUL-terminated string the caller frees, or NULL with ERR
 *  (INVALID_ARG naming what is malformed; INTERNAL when out of memory). The inputs are the
 *  broker's reply results; a missing optional field is printed the way virsh prints a domain
 *  that lacks it.
 */
#ifndef VBSH_FORMAT_H
#define VBSH_FORMAT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vb_error.h"
#include "vb_proto.h"

/*  A vsh-table: NCOLS header cells, then NROWS x NCOLS cells row by row (NULL prints as "").
 *  Each cell is " %s" padded to its column's width + 2; the header is followed by
 *  (width + 3) dashes per column. */
char *vbsh_format_table (const char *const *header, size_t ncols, const char *const *cells,
                         size_t nrows, vb_error_t *err);

/*  `list` options, as virsh's. */
typedef struct {
    bool all;
    bool inactive;
    bool name;           /* names only, one per line */
    bool uuid;           /* UUIDs only (with --name: "UUID NAME") */
    bool state_running;
    bool state_paused;
    bool state_shutoff;
} vbsh_list_opts_t;

/*  `list`: DOMAINS is the array of domain info objects ({name, uuid, id, state, host, ...}).
 *  Filtered as virsh filters (active by default, --inactive, --all, --state-*), sorted as virsh
 *  sorts (running by id, then inactive by name, case-insensitive; ties by host). When the
 *  domains come from more than one host a "Host" column is added last. */
char *vbsh_format_list (json_object *domains, const vbsh_list_opts_t *opts, vb_error_t *err);

/*  `hosts`: HOSTS is an array of {host, driver, worker, domains (count or array), load,
 *  heartbeat_age_ms}; a table sorted by host, driver, worker. */
char *vbsh_format_hosts (json_object *hosts, vb_error_t *err);

/*  `dominfo`: INFO is one domain info object. */
char *vbsh_format_dominfo (json_object *info, vb_error_t *err);

/*  `domstate [--reason]`: "running\n" or "running (booted)\n". */
char *vbsh_format_domstate (json_object *info, bool reason, vb_error_t *err);

/*  One `domstats` record: "Domain: 'x'\n" and "  key=value\n" per [key, type, value] in
 *  record.params, values as virsh prints typed parameters (bool yes/no, double %f). */
char *vbsh_format_domstats_record (json_object *record, vb_error_t *err);

/*  Order of `domstats` records: when NAMES (NNAMES arguments as given: name, host/name or UUID)
 *  are given, in argument order (unmatched records after them); otherwise by (host, name).
 *  Returns a new array (caller frees) of NRECORDS indexes into RECORDS, or NULL. */
size_t *vbsh_domstats_order (json_object *records, const char *const *names, size_t nnames);

/*  All records in that order, separated by one blank line (virsh prints "\n" only between
 *  records). */
char *vbsh_format_domstats (json_object *records, const char *const *names, size_t nnames,
                            vb_error_t *err);

/*  The warning for a record whose status is not "ok" (a line ending in "\n"), or NULL when the
 *  record is fine. */
char *vbsh_format_domstats_warning (json_object *record);

/*  The warning for a worker named in a fan-out reply's partial list:
 *  "warning: host H (driver D, worker W) did not answer: MESSAGE\n". */
char *vbsh_format_partial_warning (const vb_partial_t *partial);

/*  virsh's timestamp (virTimeStringNowRaw) of wall-clock TIME_NS:
 *  "YYYY-MM-DD HH:MM:SS.mmm+0000". OUT must hold 32 bytes. */
void vbsh_format_timestamp (uint64_t time_ns, char out[32]);

/*  One `virsh event` line for EV ("event 'lifecycle' for domain 'web': Started Booted\n"),
 *  prefixed by the timestamp of EV->time_ns (when the worker saw it) when TIMESTAMP. A gap event
 *  (kind "gap") gives the warning line for stderr
 *  "warning: events FROM..TO were lost: the broker no longer holds them\n". */
char *vbsh_format_event (const vb_event_t *ev, bool timestamp, vb_error_t *err);

#endif
