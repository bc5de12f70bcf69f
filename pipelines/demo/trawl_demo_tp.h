/* Tracepoints of the demo workload (lttng-ust): one request is a
 * `trawl_demo:request_begin` and a `trawl_demo:request_end` with the same id.
 * Built by scripts/demo.sh: cc -I. workload.c trawl_demo_tp.c -llttng-ust -ldl */
#undef TRACEPOINT_PROVIDER
#define TRACEPOINT_PROVIDER trawl_demo

#undef TRACEPOINT_INCLUDE
#define TRACEPOINT_INCLUDE "./trawl_demo_tp.h"

#if !defined(TRAWL_DEMO_TP_H) || defined(TRACEPOINT_HEADER_MULTI_READ)
#define TRAWL_DEMO_TP_H

#include <lttng/tracepoint.h>
#include <stdint.h>

TRACEPOINT_EVENT(
    trawl_demo,
    request_begin,
    TP_ARGS(uint64_t, id, const char *, route),
    TP_FIELDS(
        ctf_integer(uint64_t, id, id)
        ctf_string(route, route)
    )
)

TRACEPOINT_EVENT(
    trawl_demo,
    request_end,
    TP_ARGS(uint64_t, id, const char *, route, uint32_t, status, uint64_t, duration_ns),
    TP_FIELDS(
        ctf_integer(uint64_t, id, id)
        ctf_string(route, route)
        ctf_integer(uint32_t, status, status)
        ctf_integer(uint64_t, duration_ns, duration_ns)
    )
)

#endif /* TRAWL_DEMO_TP_H */

#include <lttng/tracepoint-event.h>
