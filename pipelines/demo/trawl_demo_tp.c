/* The tracepoint provider of the demo workload: compiled into it. */
#define TRACEPOINT_CREATE_PROBES
#define TRACEPOINT_DEFINE
#include "trawl_demo_tp.h"
