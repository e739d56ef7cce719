/*  virtbusd — the virtbus broker process: parse the command line, bind, print the ready line,
 *  serve until SIGTERM/SIGINT. */
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_broker.h"
#include "vb_endpoint.h"
#include "vb_events.h"
#include "vb_keygen.h"
#include "vb_log.h"
#include "vb_util.h"

static void
s_usage (FILE *out)
{
    fprintf (out,
             "Usage: virtbusd [OPTION]...\n"
             "The virtbus broker: routes requests from clients (vbsh) to workers and publishes\n"
             "their events.\n"
             "\n"
             "  --clients EP        client endpoint to bind (default %s)\n"
             "  --workers EP        worker endpoint to bind (default %s)\n"
             "  --events EP         event (pub/sub) endpoint to bind (default %s)\n"
             "  --advertise HOST    host to advertise in place of a wildcard bind address\n"
             "  --keys DIR          CurveZMQ keys: DIR/broker_secret, DIR/workers/, "
             "DIR/clients/\n"
             "  --insecure          allow a non-loopback bind without --keys\n"
             "  --max-inflight K    requests in flight per client before BUSY (default %d)\n"
             "  --state-dir DIR     state directory (default %s)\n"
             "  --heartbeat-ms N    heartbeat interval; a worker silent for 3 is dead "
             "(default %d)\n"
             "  --event-ring N      events kept for events.replay, in memory and in\n"
             "                      DIR/events.journal (default %d)\n"
             "  --log-level L       error, warn, info or debug (default warn)\n"
             "  --help              show this help and exit\n"
             "  --version           show the version and exit\n"
             "\n"
             "Endpoints accept port 0 or * (tcp://127.0.0.1:*). Once serving, virtbusd prints\n"
             "one line on stdout: ready clients=EP workers=EP events=EP\n"
             "`virtbusd keygen --help` shows how to make keys (docs/operations.md).\n",
             VB_BROKER_DEFAULT_CLIENTS, VB_BROKER_DEFAULT_WORKERS, VB_BROKER_DEFAULT_EVENTS,
             VB_BROKER_DEFAULT_MAX_INFLIGHT,
             VB_BROKER_DEFAULT_STATE_DIR, VB_BROKER_DEFAULT_HEARTBEAT_MS,
             VB_EVENTS_DEFAULT_CAPACITY);
}

/*  A positive integer option in 1..MAX, or -1. */
static long
s_parse_count (const char *text, long max)
{
    char *end = NULL;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || end == text || *end || value < 1 || value > max)
        return -1;
    return value;
}

int
main (int argc, char **argv)
{
    enum { OPT_CLIENTS = 1, OPT_WORKERS, OPT_EVENTS, OPT_ADVERTISE, OPT_STATE_DIR,
           OPT_HEARTBEAT, OPT_RING, OPT_LOG, OPT_HELP, OPT_VERSION,
           OPT_KEYS = 100, OPT_INSECURE, OPT_MAX_INFLIGHT };
    static const struct option options[] = {
        {"clients", required_argument, NULL, OPT_CLIENTS},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {"events", required_argument, NULL, OPT_EVENTS},
        {"advertise", required_argument, NULL, OPT_ADVERTISE},
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
        {"heartbeat-ms", required_argument, NULL, OPT_HEARTBEAT},
        {"event-ring", required_argument, NULL, OPT_RING},
        {"log-level", required_argument, NULL, OPT_LOG},
        {"keys", required_argument, NULL, OPT_KEYS},
        {"insecure", no_argument, NULL, OPT_INSECURE},
        {"max-inflight", required_argument, NULL, OPT_MAX_INFLIGHT},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    vb_broker_config_t config = {0};
    const char *state_dir = VB_BROKER_DEFAULT_STATE_DIR;
    vb_log_level_t level = VB_LOG_WARN;
    long value;
    int opt;

    if (argc > 1 && streq (argv[1], "keygen"))
        return vb_keygen_main (argc - 1, argv + 1);
    opterr = 0;
    while ((opt = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_CLIENTS: config.clients = optarg; break;
        case OPT_WORKERS: config.workers = optarg; break;
        case OPT_EVENTS: config.events = optarg; break;
        case OPT_ADVERTISE:
            if (!vb_advertise_is_valid (optarg)) {
                fprintf (stderr, "virtbusd: --advertise '%s' is not a host name, an IPv4 "
                         "address or a bracketed IPv6 address\n",
                         optarg);
                return 2;
            }
            config.advertise = optarg;
            break;
        case OPT_STATE_DIR: state_dir = optarg; break;
        case OPT_KEYS: config.keys_dir = optarg; break;
        case OPT_INSECURE: config.insecure = true; break;
        case OPT_MAX_INFLIGHT:
            if ((value = s_parse_count (optarg, VB_BROKER_MAX_JOBS)) < 0) {
                fprintf (stderr, "virtbusd: --max-inflight '%s' is not a count in 1..%d\n",
                         optarg, VB_BROKER_MAX_JOBS);
                return 2;
            }
            config.max_inflight = (int) value;
            break;
        case OPT_HEARTBEAT:
            if ((value = s_parse_count (optarg, 3600000)) < 0) {
                fprintf (stderr, "virtbusd: --heartbeat-ms '%s' is not a number of "
                         "milliseconds in 1..3600000\n", optarg);
                return 2;
            }
            config.heartbeat_ms = (int) value;
            break;
        case OPT_RING:
            if ((value = s_parse_count (optarg, 100000000)) < 0) {
                fprintf (stderr, "virtbusd: --event-ring '%s' is not a count in "
                         "1..100000000\n", optarg);
                return 2;
            }
            config.event_ring = (size_t) value;
            break;
        case OPT_LOG:
            if (vb_log_level_parse (optarg, &level) != 0) {
                fprintf (stderr, "virtbusd: --log-level '%s' is not one of error, warn, info, "
                         "debug\n", optarg);
                return 2;
            }
            break;
        case OPT_HELP:
            s_usage (stdout);
            return 0;
        case OPT_VERSION:
            printf ("virtbusd %s\n", VB_VERSION);
            return 0;
        default:
            fprintf (stderr, "virtbusd: unknown or incomplete option '%s'; see virtbusd "
                     "--help\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "virtbusd: unexpected argument '%s'; see virtbusd --help\n",
                 argv[optind]);
        return 2;
    }
    vb_log_init ("virtbusd", level);

    config.state_dir = state_dir;
    vb_error_t err = {0};
    if (vb_mkdir_p (state_dir, 0700, &err) != 0) {
        fprintf (stderr, "virtbusd: cannot create the state directory: %s\n", err.message);
        return 1;
    }
    /*  CZMQ's handler turns SIGINT/SIGTERM into zsys_interrupted, which ends zloop. */
    zsys_init ();
    zsys_catch_interrupts ();

    vb_broker_t *broker = vb_broker_new (&config, &err);
    if (!broker) {
        fprintf (stderr, "virtbusd: %s\n", err.message);
        zsys_shutdown ();
        return 1;
    }
    printf ("ready clients=%s workers=%s events=%s\n", vb_broker_clients_endpoint (broker),
            vb_broker_workers_endpoint (broker), vb_broker_events_endpoint (broker));
    fflush (stdout);
    vb_info ("serving clients on %s, workers on %s, events on %s",
             vb_broker_clients_endpoint (broker), vb_broker_workers_endpoint (broker),
             vb_broker_events_endpoint (broker));
    int rc = vb_broker_run (broker);
    vb_broker_destroy (&broker);
    zsys_shutdown ();
    return rc == 0 ? 0 : 1;
}
