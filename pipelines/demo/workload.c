/* The demo workload: a fake service handling requests for SECONDS seconds
 * (default 20), each a `trawl_demo:request_begin` / `request_end` pair with
 * an id, a route, a status and its duration, doing a little real work
 * (allocations, which the libc wrapper traces too) and sleeping for a
 * latency that depends on the route, with a slow tail.
 *
 *   trawl-demo-workload [SECONDS] [REQUESTS_PER_SECOND]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trawl_demo_tp.h"

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64: reproducible runs. */
static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void sleep_ns(uint64_t ns) {
    struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
    nanosleep(&ts, NULL);
}

struct route { const char *path; uint64_t base_us; };

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 20.0;
    double rate = argc > 2 ? atof(argv[2]) : 500.0;
    static const struct route routes[] = {
        { "/api/users", 800 },
        { "/api/orders", 2500 },
        { "/api/search", 6000 },
        { "/health", 50 },
    };
    const uint64_t gap_ns = (uint64_t)(1e9 / (rate > 0 ? rate : 1));
    const uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
    uint64_t id = 0;
    while (now_ns() < end) {
        const struct route *r = &routes[next_rand() % 4];
        uint64_t start = now_ns();
        tracepoint(trawl_demo, request_begin, id, r->path);
        /* Some work: a few buffers of various sizes. */
        for (int i = 0; i < 4; i++) {
            size_t size = 64 + (size_t)(next_rand() % 8192);
            char *p = malloc(size);
            if (!p) return 1;
            memset(p, (int)i, size);
            free(p);
        }
        /* Latency: the route's base, ±50%, and one request in 50 is 10x slower. */
        uint64_t us = r->base_us / 2 + next_rand() % (r->base_us + 1);
        if (next_rand() % 50 == 0) us *= 10;
        sleep_ns(us * 1000);
        uint32_t status = next_rand() % 100 == 0 ? 500 : 200;
        tracepoint(trawl_demo, request_end, id, r->path, status, now_ns() - start);
        id++;
        uint64_t spent = now_ns() - start;
        if (spent < gap_ns) sleep_ns(gap_ns - spent);
    }
    printf("%llu requests\n", (unsigned long long)id);
    return 0;
}
