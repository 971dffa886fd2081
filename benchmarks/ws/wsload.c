/*
 * wsload.c -- a single-threaded epoll WebSocket load generator for the chat's JSON WebSocket
 * (docs/web.md) and any server speaking the same few messages (benchmarks/ws/server.js).
 *
 * Build:  gcc -O2 -Wall -o wsload wsload.c        (benchmarks/web.py does it for itself)
 *
 * Every client opens ws://HOST:PORT/ws (RFC 6455: HTTP upgrade with a fixed key whose
 * Sec-WebSocket-Accept is checked), waits for the server's first message (the welcome),
 * and sends {"type":"join","room":ROOM}.  Once every client is in, client 0 sends barrier
 * lines until each client has heard one (so every join has been handled); then --senders of
 * them each send --msgs {"type":"say","room":ROOM,"text":TEXT} messages, at most --window
 * unanswered each (or --rate messages a second in all).  TEXT holds a tag
 *     B<sender>:<seq>:<send_ns>:<check>
 * padded to --size bytes; <send_ns> is CLOCK_MONOTONIC; <check> is a hash of the three numbers,
 * so that a garbled message counts as corrupt, not as a delivery.  Each client checks that it
 * hears every sender's messages exactly once, in order, uncorrupted, in "said" messages.
 *
 * Client frames are masked, as RFC 6455 requires; server frames must not be.  Text, ping
 * (answered), pong, close and fragmented messages are understood; a binary frame, a masked
 * one, or one longer than MAX_MESSAGE is an error.
 *
 * Only loopback addresses; every loop ends by --timeout-s or --stall-ms.
 * Output: one JSON line on stdout (the fields of ../shared/bench/loadgen.c); diagnostics on
 * stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF_SIZE (1 << 20)    /* the shared read buffer */
#define MAX_MESSAGE (1 << 16)  /* the longest frame or message kept */
#define MAX_EVENTS 4096
#define HIST_SIZE 4096
#define MAX_ERRLOG 10

/* The handshake's key, and the accept value the server must answer with (RFC 6455, 1.3). */
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

enum { ST_NEW = 0, ST_CONNECTING, ST_HANDSHAKE, ST_WELCOME, ST_READY, ST_DEAD };
enum { PH_SETUP = 0, PH_SETTLE, PH_SYNC, PH_RUN };

typedef struct {
    int fd;
    uint8_t state;
    uint8_t got_sync;
    uint8_t epout;
    uint8_t dirty;
    char *carry;        /* bytes of an unfinished frame (or handshake) */
    uint32_t carry_len, carry_cap;
    char *frag;         /* a fragmented message's text so far */
    uint32_t frag_len, frag_cap;
    uint8_t in_frag;
    char *out;
    size_t out_off, out_len, out_cap;
} client_t;

typedef struct {
    int64_t sent;
    int64_t max_seen;
} sender_t;

static const char *o_host = "127.0.0.1";
static const char *o_path = "/ws";
static const char *o_room = "#bench";
static int o_port = 0;
static int o_clients = 100;
static int o_senders = 10;
static long o_msgs = 1000;
static double o_rate = 0;
static int o_window = 16;
static int o_size = 64;
static int o_settle_ms = 200;
static double o_timeout_s = 60;
static int o_connect_inflight = 128;
static int o_stall_ms = 10000;
static int o_verbose = 0;

static client_t *cl;
static sender_t *snd;
static int32_t *lastseq; /* [receiver * senders + sender] */
static int epfd;
static char *rbuf;
static int *dirty_list;
static int n_dirty;

static uint64_t hist[HIST_SIZE];
static uint64_t lat_max_us;
static uint64_t delivered, ooo, gaps, corrupt, untagged, bytes_in, frames_in, server_errors;
static uint64_t expected;
static int errors, n_errlog;
static int n_connected, n_ready, n_synced, n_started, n_inflight, n_dead;
static int phase = PH_SETUP;
static int64_t t0, t_connected, t_ready, t_start, t_last_deliv, t_settle_end, t_next_sync;
static int64_t t_sync_start;
static int sync_k;
static int64_t rate_next_idx, total_msgs;
static uint64_t mask_state = 0x2545F4914F6CDD1DULL;
static const char *stop_reason = "none";

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void logerr(const char *fmt, ...)
{
    errors++;
    if (n_errlog++ >= MAX_ERRLOG)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "wsload: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* ---- latency histogram, in us: 64 sub-buckets an octave (~1.5 %) ---- */
static inline int hist_idx(uint64_t v)
{
    if (v < 128)
        return (int)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - 6;
    int idx = shift * 64 + (int)(v >> shift);
    return idx < HIST_SIZE ? idx : HIST_SIZE - 1;
}

static inline uint64_t hist_val(int idx)
{
    if (idx < 128)
        return (uint64_t)idx;
    int shift = idx / 64 - 1;
    uint64_t m = (uint64_t)(idx % 64 + 64);
    return (m << shift) + ((1ULL << shift) >> 1);
}

static uint64_t hist_pct(double p)
{
    uint64_t total = 0;
    for (int i = 0; i < HIST_SIZE; i++)
        total += hist[i];
    if (!total)
        return 0;
    uint64_t want = (uint64_t)(p * (double)total);
    if (want >= total)
        want = total - 1;
    uint64_t acc = 0;
    for (int i = 0; i < HIST_SIZE; i++) {
        acc += hist[i];
        if (acc > want)
            return hist_val(i);
    }
    return lat_max_us;
}

/* ---- the tag ---- */
static inline uint32_t tag_ck(uint64_t s, uint64_t q, uint64_t ns)
{
    uint64_t h = s * 0x9E3779B97F4A7C15ULL ^ q * 0xC2B2AE3D27D4EB4FULL ^ ns;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 32;
    return (uint32_t)(h % 1000000u);
}

static inline char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static inline const char *get_u64(const char *p, const char *end, uint64_t *out)
{
    const char *start = p;
    const char *stop = end - p > 19 ? p + 19 : end;
    uint64_t v = 0;
    while (p < stop && (unsigned)(*p - '0') <= 9)
        v = v * 10 + (uint64_t)(*p++ - '0');
    if (p == start || (p < end && (unsigned)(*p - '0') <= 9))
        return NULL; /* no digit, or more than 19 */
    *out = v;
    return p;
}

/* ---- output ---- */
static void out_reserve(client_t *c, size_t extra)
{
    if (c->out_off && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + extra <= c->out_cap)
        return;
    if (c->out_off) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
        if (c->out_len + extra <= c->out_cap)
            return;
    }
    size_t cap = c->out_cap ? c->out_cap : 512;
    while (cap < c->out_len + extra)
        cap *= 2;
    c->out = realloc(c->out, cap);
    if (!c->out) {
        perror("realloc");
        exit(2);
    }
    c->out_cap = cap;
}

static void mark_dirty(int i)
{
    if (!cl[i].dirty) {
        cl[i].dirty = 1;
        dirty_list[n_dirty++] = i;
    }
}

static void out_append(int i, const void *s, size_t n)
{
    client_t *c = &cl[i];
    out_reserve(c, n);
    memcpy(c->out + c->out_len, s, n);
    c->out_len += n;
    mark_dirty(i);
}

static inline uint32_t next_mask(void)
{
    mask_state ^= mask_state << 13;
    mask_state ^= mask_state >> 7;
    mask_state ^= mask_state << 17;
    return (uint32_t)mask_state;
}

/* One frame of C{opcode} from client i: FIN set, masked as a client's must be. */
static void send_frame(int i, int opcode, const char *payload, size_t n)
{
    unsigned char head[14];
    size_t h = 0;
    head[h++] = (unsigned char)(0x80 | opcode);
    if (n < 126) {
        head[h++] = (unsigned char)(0x80 | n);
    } else if (n < 65536) {
        head[h++] = 0x80 | 126;
        head[h++] = (unsigned char)(n >> 8);
        head[h++] = (unsigned char)n;
    } else {
        head[h++] = 0x80 | 127;
        for (int k = 7; k >= 0; k--)
            head[h++] = (unsigned char)((uint64_t)n >> (8 * k));
    }
    uint32_t key = next_mask();
    unsigned char mask[4];
    memcpy(mask, &key, 4);
    memcpy(head + h, mask, 4);
    h += 4;
    client_t *c = &cl[i];
    out_reserve(c, h + n);
    memcpy(c->out + c->out_len, head, h);
    unsigned char *dst = (unsigned char *)c->out + c->out_len + h;
    for (size_t k = 0; k < n; k++)
        dst[k] = (unsigned char)payload[k] ^ mask[k & 3];
    c->out_len += h + n;
    mark_dirty(i);
}

static void send_text(int i, const char *text, size_t n) { send_frame(i, 0x1, text, n); }

static void client_dead(int i, const char *why)
{
    client_t *c = &cl[i];
    if (c->state == ST_DEAD)
        return;
    if (c->state != ST_READY && c->state != ST_NEW)
        n_inflight--;
    logerr("client %d: %s (phase %d)", i, why, phase);
    c->state = ST_DEAD;
    n_dead++;
    if (c->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
}

static void set_epout(client_t *c, int on)
{
    if (c->epout == on || c->fd < 0)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u32 = (uint32_t)(c - cl)};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->epout = (uint8_t)on;
}

static void flush_client(int i)
{
    client_t *c = &cl[i];
    if (c->state == ST_DEAD || c->state == ST_CONNECTING)
        return;
    while (c->out_off < c->out_len) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_epout(c, 1);
                return;
            }
            if (errno == EINTR)
                continue;
            client_dead(i, strerror(errno));
            return;
        }
        c->out_off += (size_t)w;
    }
    c->out_off = c->out_len = 0;
    set_epout(c, 0);
}

static void flush_dirty(void)
{
    for (int k = 0; k < n_dirty; k++) {
        int i = dirty_list[k];
        cl[i].dirty = 0;
        flush_client(i);
    }
    n_dirty = 0;
}

/* ---- messages ---- */
static void send_say(int i, const char *text, size_t n)
{
    char msg[9000];
    int room = (int)strlen(o_room);
    size_t m = 0;
    memcpy(msg + m, "{\"type\":\"say\",\"room\":\"", 22);
    m += 22;
    memcpy(msg + m, o_room, (size_t)room);
    m += (size_t)room;
    memcpy(msg + m, "\",\"text\":\"", 10);
    m += 10;
    memcpy(msg + m, text, n);
    m += n;
    memcpy(msg + m, "\"}", 2);
    m += 2;
    send_text(i, msg, m);
}

static void send_tagged(int s, uint64_t q, uint64_t ns)
{
    char text[8192];
    char *p = text;
    *p++ = 'B';
    p = put_u64(p, (uint64_t)s);
    *p++ = ':';
    p = put_u64(p, q);
    *p++ = ':';
    p = put_u64(p, ns);
    *p++ = ':';
    p = put_u64(p, tag_ck((uint64_t)s, q, ns));
    int len = (int)(p - text);
    if (len + 1 < o_size) {
        int pad = o_size - len - 1;
        if (pad > (int)sizeof(text) - 100)
            pad = (int)sizeof(text) - 100;
        *p++ = ' ';
        memset(p, 'x', (size_t)pad);
        p += pad;
    }
    send_say(s, text, (size_t)(p - text));
}

static void send_sync(int i, int k)
{
    char text[64];
    int n = snprintf(text, sizeof text, "BSYNC:%d", k);
    send_say(i, text, (size_t)n);
}

static void send_join(int i)
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "{\"type\":\"join\",\"room\":\"%s\"}", o_room);
    send_text(i, msg, (size_t)n);
}

/* ---- receiving ---- */
static inline void deliver(int r, uint64_t s, uint64_t q, uint64_t ns, int64_t now)
{
    int32_t *last = &lastseq[(size_t)r * (size_t)o_senders + s];
    if ((int64_t)q <= *last) {
        ooo++;
    } else {
        if ((int64_t)q > *last + 1)
            gaps += (uint64_t)((int64_t)q - *last - 1);
        *last = (int32_t)q;
    }
    delivered++;
    if ((int64_t)q > snd[s].max_seen)
        snd[s].max_seen = (int64_t)q;
    int64_t lat = now - (int64_t)ns;
    uint64_t us = lat > 0 ? (uint64_t)lat / 1000 : 0;
    if (us > lat_max_us)
        lat_max_us = us;
    hist[hist_idx(us)]++;
    t_last_deliv = now;
}

#define SAID "{\"type\":\"said\","
#define SAID_LEN (sizeof(SAID) - 1)
#define TEXT "\"text\":\""
#define TEXT_LEN (sizeof(TEXT) - 1)

/* Whether the n bytes at p are s: two 8-byte loads for the prefixes tested per message. */
static inline int starts(const char *p, const char *s, size_t n)
{
    uint64_t a, b;
    for (; n >= 8; p += 8, s += 8, n -= 8) {
        memcpy(&a, p, 8);
        memcpy(&b, s, 8);
        if (a != b)
            return 0;
    }
    return n == 0 || memcmp(p, s, n) == 0;
}

/* The text of a said message: just after its "text":" (the tag's 'B' is the first one there). */
static const char *said_text(const char *msg, const char *end)
{
    const char *p = msg + SAID_LEN;
    while (p < end) {
        const char *b = memchr(p, 'B', (size_t)(end - p));
        if (!b)
            return NULL;
        if (b - msg >= (long)(SAID_LEN + TEXT_LEN) && starts(b - TEXT_LEN, TEXT, TEXT_LEN))
            return b;
        p = b + 1;
    }
    return NULL;
}

/* A whole text message to client r. */
static void on_message(int r, const char *msg, size_t len, int64_t now)
{
    client_t *c = &cl[r];
    const char *end = msg + len;
    if (len > SAID_LEN && starts(msg, SAID, SAID_LEN)) {
        const char *p = said_text(msg, end);
        if (!p || end[-1] != '}') {
            corrupt++;
            return;
        }
        if (end - p >= 5 && p[1] == 'S' && memcmp(p, "BSYNC", 5) == 0) {
            if (!c->got_sync) {
                c->got_sync = 1;
                n_synced++;
            }
            return;
        }
        uint64_t s, q, ns, ck;
        const char *x;
        if ((x = get_u64(p + 1, end, &s)) && x < end && *x == ':' && (x = get_u64(x + 1, end, &q)) &&
            x < end && *x == ':' && (x = get_u64(x + 1, end, &ns)) && x < end && *x == ':' &&
            (x = get_u64(x + 1, end, &ck)) && s < (uint64_t)o_senders && q < (uint64_t)o_msgs &&
            ck == tag_ck(s, q, ns)) {
            if (phase >= PH_RUN)
                deliver(r, s, q, ns, now);
            return;
        }
        corrupt++;
        return;
    }
    if (c->state == ST_WELCOME) {
        /* The server's first message: the welcome.  Then join the room. */
        if (len < 18 || memcmp(msg, "{\"type\":\"welcome\"", 17) != 0) {
            client_dead(r, "the first message was not a welcome");
            return;
        }
        send_join(r);
        c->state = ST_READY;
        n_ready++;
        n_inflight--;
        return;
    }
    if (len >= 16 && memcmp(msg, "{\"type\":\"error\"", 15) == 0) {
        server_errors++;
        logerr("client %d got: %.*s", r, (int)(len > 200 ? 200 : len), msg);
        return;
    }
    untagged++; /* joined, members, topic, history: not counted */
}

/* Keep a fragment of a message; 0 if it is too long. */
static int frag_append(client_t *c, const char *p, size_t n)
{
    if (c->frag_len + n > MAX_MESSAGE)
        return 0;
    if (c->frag_len + n > c->frag_cap) {
        c->frag_cap = MAX_MESSAGE;
        c->frag = realloc(c->frag, c->frag_cap);
        if (!c->frag) {
            perror("realloc");
            exit(2);
        }
    }
    memcpy(c->frag + c->frag_len, p, n);
    c->frag_len += (uint32_t)n;
    return 1;
}

/*
 * Frames from p to end for client i; return how many bytes were used (a frame cut short
 * stays for the next read), or -1 if the client is dead.
 */
static long parse_frames(int i, const char *buf, const char *end, int64_t now)
{
    client_t *c = &cl[i];
    const unsigned char *p = (const unsigned char *)buf;
    const unsigned char *e = (const unsigned char *)end;
    while (e - p >= 2) {
        int fin = p[0] & 0x80, opcode = p[0] & 0x0f;
        if (p[0] & 0x70) {
            client_dead(i, "a frame with reserved bits set");
            return -1;
        }
        if (p[1] & 0x80) {
            client_dead(i, "a masked frame from the server");
            return -1;
        }
        uint64_t n = p[1] & 0x7f;
        size_t h = 2;
        if (n == 126) {
            if (e - p < 4)
                break;
            n = ((uint64_t)p[2] << 8) | p[3];
            h = 4;
        } else if (n == 127) {
            if (e - p < 10)
                break;
            n = 0;
            for (int k = 0; k < 8; k++)
                n = (n << 8) | p[2 + k];
            h = 10;
        }
        if (n > MAX_MESSAGE) {
            client_dead(i, "a frame too long");
            return -1;
        }
        if ((uint64_t)(e - p) < h + n)
            break;
        const char *payload = (const char *)p + h;
        frames_in++;
        switch (opcode) {
        case 0x1:
            if (c->in_frag) {
                client_dead(i, "a new message inside a fragmented one");
                return -1;
            }
            if (fin) {
                on_message(i, payload, (size_t)n, now);
            } else {
                c->in_frag = 1;
                c->frag_len = 0;
                if (!frag_append(c, payload, (size_t)n)) {
                    client_dead(i, "a message too long");
                    return -1;
                }
            }
            break;
        case 0x0:
            if (!c->in_frag || !frag_append(c, payload, (size_t)n)) {
                client_dead(i, "a bad continuation frame");
                return -1;
            }
            if (fin) {
                c->in_frag = 0;
                on_message(i, c->frag, c->frag_len, now);
            }
            break;
        case 0x9:
            send_frame(i, 0xA, payload, (size_t)n);
            break;
        case 0xA:
            break;
        case 0x8: {
            char why[160];
            int code = n >= 2 ? ((unsigned char)payload[0] << 8) | (unsigned char)payload[1] : 0;
            snprintf(why, sizeof why, "the server closed the WebSocket (%d %.*s)", code,
                     n > 2 ? (int)(n - 2 > 100 ? 100 : n - 2) : 0, payload + 2);
            client_dead(i, why);
            return -1;
        }
        default:
            client_dead(i, "a binary or unknown frame");
            return -1;
        }
        if (c->state == ST_DEAD)
            return -1;
        p += h + n;
    }
    return (long)((const char *)p - buf);
}

/* The server's answer to the upgrade; return the bytes it took, 0 for more, -1 if dead. */
static long parse_handshake(int i, const char *buf, const char *end)
{
    const char *stop = memmem(buf, (size_t)(end - buf), "\r\n\r\n", 4);
    if (!stop) {
        if (end - buf > 8192) {
            client_dead(i, "no end to the HTTP answer");
            return -1;
        }
        return 0;
    }
    size_t len = (size_t)(stop - buf);
    if (len < 12 || memcmp(buf, "HTTP/1.1 101", 12) != 0) {
        char why[200];
        const char *eol = memchr(buf, '\r', len);
        snprintf(why, sizeof why, "upgrade refused: %.*s", (int)((eol ? eol : stop) - buf), buf);
        client_dead(i, why);
        return -1;
    }
    if (!memmem(buf, len, WS_ACCEPT, sizeof(WS_ACCEPT) - 1)) {
        client_dead(i, "a wrong Sec-WebSocket-Accept");
        return -1;
    }
    cl[i].state = ST_WELCOME;
    n_connected++;
    return (long)(len + 4);
}

static void do_read(int i)
{
    client_t *c = &cl[i];
    size_t n0 = c->carry_len;
    if (n0)
        memcpy(rbuf, c->carry, n0);
    ssize_t r = read(c->fd, rbuf + n0, RBUF_SIZE - n0);
    if (r == 0) {
        client_dead(i, "the server closed the connection");
        return;
    }
    if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        client_dead(i, strerror(errno));
        return;
    }
    bytes_in += (uint64_t)r;
    int64_t now = now_ns();
    const char *p = rbuf, *end = rbuf + n0 + (size_t)r;
    if (c->state == ST_HANDSHAKE) {
        long used = parse_handshake(i, p, end);
        if (used < 0)
            return;
        p += used;
    }
    if (c->state != ST_HANDSHAKE) {
        long used = parse_frames(i, p, end, now);
        if (used < 0)
            return;
        p += used;
    }
    size_t left = (size_t)(end - p);
    if (left > c->carry_cap) {
        c->carry_cap = (uint32_t)(left < 256 ? 256 : left * 2);
        c->carry = realloc(c->carry, c->carry_cap);
        if (!c->carry) {
            perror("realloc");
            exit(2);
        }
    }
    if (left)
        memmove(c->carry, p, left);
    c->carry_len = (uint32_t)left;
}

/* ---- connecting ---- */
static void on_connected(int i)
{
    client_t *c = &cl[i];
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->epout = 0;
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: " WS_KEY "\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     o_path, o_host, o_port);
    c->state = ST_HANDSHAKE;
    out_append(i, req, (size_t)n);
}

static void start_connect(int i, struct sockaddr_in *sa)
{
    client_t *c = &cl[i];
    c->state = ST_CONNECTING;
    n_inflight++;
    n_started++;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        client_dead(i, "socket() failed (RLIMIT_NOFILE?)");
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    if (connect(fd, (struct sockaddr *)sa, sizeof *sa) < 0 && errno != EINPROGRESS) {
        client_dead(i, strerror(errno));
        return;
    }
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    c->epout = 1;
}

/* ---- sending ---- */
static void refill_window(void)
{
    int64_t ns = now_ns();
    for (int s = 0; s < o_senders; s++) {
        sender_t *x = &snd[s];
        if (cl[s].state == ST_DEAD)
            continue;
        while (x->sent < o_msgs && x->sent - (x->max_seen + 1) < o_window) {
            send_tagged(s, (uint64_t)x->sent, (uint64_t)ns);
            x->sent++;
        }
    }
}

static int64_t rate_due(int64_t idx) { return t_start + (int64_t)((double)idx * 1e9 / o_rate); }

static void rate_send(int64_t now)
{
    while (rate_next_idx < total_msgs) {
        int64_t due = rate_due(rate_next_idx);
        if (due > now)
            break;
        int s = (int)(rate_next_idx % o_senders);
        if (cl[s].state != ST_DEAD) {
            send_tagged(s, (uint64_t)(rate_next_idx / o_senders), (uint64_t)due);
            snd[s].sent++;
        }
        rate_next_idx++;
    }
}

static int64_t all_sent(void)
{
    int64_t t = 0;
    for (int s = 0; s < o_senders; s++)
        t += snd[s].sent;
    return t;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: wsload --port P [--host 127.0.0.1] [--path /ws] [--room #bench]\n"
            "  [--clients N] [--senders S] [--msgs M per sender] [--window W]\n"
            "  [--rate R total msgs/s, 0 = window] [--size BYTES of text]\n"
            "  [--settle-ms MS] [--timeout-s S] [--connect-inflight K] [--stall-ms MS] [--verbose]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static struct option lo[] = {
        {"host", 1, 0, 'h'},     {"port", 1, 0, 'p'},      {"path", 1, 0, 'a'},
        {"room", 1, 0, 'o'},     {"clients", 1, 0, 'c'},   {"senders", 1, 0, 's'},
        {"msgs", 1, 0, 'm'},     {"rate", 1, 0, 'r'},      {"window", 1, 0, 'w'},
        {"size", 1, 0, 'z'},     {"settle-ms", 1, 0, 'S'}, {"timeout-s", 1, 0, 't'},
        {"connect-inflight", 1, 0, 'k'}, {"stall-ms", 1, 0, 'T'}, {"verbose", 0, 0, 'v'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'h': o_host = optarg; break;
        case 'p': o_port = atoi(optarg); break;
        case 'a': o_path = optarg; break;
        case 'o': o_room = optarg; break;
        case 'c': o_clients = atoi(optarg); break;
        case 's': o_senders = atoi(optarg); break;
        case 'm': o_msgs = atol(optarg); break;
        case 'r': o_rate = atof(optarg); break;
        case 'w': o_window = atoi(optarg); break;
        case 'z': o_size = atoi(optarg); break;
        case 'S': o_settle_ms = atoi(optarg); break;
        case 't': o_timeout_s = atof(optarg); break;
        case 'k': o_connect_inflight = atoi(optarg); break;
        case 'T': o_stall_ms = atoi(optarg); break;
        case 'v': o_verbose = 1; break;
        default: usage();
        }
    }
    if (o_port <= 0 || o_port > 65535 || o_clients < 1 || o_senders < 1 || o_senders > o_clients ||
        o_msgs < 1 || o_msgs > 2000000000L || o_window < 1 || o_size < 1 || o_size > 8000 ||
        o_timeout_s <= 0 || o_connect_inflight < 1 || strlen(o_room) > 200 ||
        strlen(o_path) > 200 || strpbrk(o_room, "\"\\"))
        usage();

    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t want = (rlim_t)o_clients + 64;
        if (rl.rlim_cur < want) {
            rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o_port)};
    if (inet_pton(AF_INET, o_host, &sa.sin_addr) != 1) {
        fprintf(stderr, "wsload: --host must be a numeric IPv4 address\n");
        return 2;
    }
    if ((ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "wsload: refusing non-loopback target %s\n", o_host);
        return 2;
    }

    cl = calloc((size_t)o_clients, sizeof *cl);
    snd = calloc((size_t)o_senders, sizeof *snd);
    lastseq = malloc((size_t)o_clients * (size_t)o_senders * sizeof(int32_t));
    dirty_list = malloc((size_t)o_clients * sizeof(int));
    rbuf = malloc(RBUF_SIZE + 16);
    struct epoll_event *evs = calloc(MAX_EVENTS, sizeof *evs);
    if (!cl || !snd || !lastseq || !dirty_list || !rbuf || !evs) {
        perror("malloc");
        return 2;
    }
    memset(lastseq, 0xff, (size_t)o_clients * (size_t)o_senders * sizeof(int32_t));
    for (int i = 0; i < o_clients; i++)
        cl[i].fd = -1;
    for (int s = 0; s < o_senders; s++)
        snd[s].max_seen = -1;
    total_msgs = (int64_t)o_msgs * o_senders;
    expected = (uint64_t)total_msgs * (uint64_t)o_clients;
    mask_state ^= (uint64_t)now_ns();

    epfd = epoll_create1(EPOLL_CLOEXEC);
    t0 = now_ns();
    int64_t deadline = t0 + (int64_t)(o_timeout_s * 1e9);
    int next_conn = 0;
    double cpu_start = 0;

    for (;;) {
        int64_t now = now_ns();
        if (phase == PH_SETUP) {
            while (next_conn < o_clients && n_inflight < o_connect_inflight)
                start_connect(next_conn++, &sa);
            if (n_dead) {
                stop_reason = "setup_failed";
                break;
            }
            if (n_ready == o_clients) {
                t_connected = now;
                phase = PH_SETTLE;
                t_settle_end = now + (int64_t)o_settle_ms * 1000000;
            }
        }
        if (phase == PH_SETTLE && now >= t_settle_end) {
            phase = PH_SYNC;
            t_next_sync = t_sync_start = now;
        }
        if (phase == PH_SYNC) {
            if (n_synced >= o_clients) {
                t_ready = now;
                phase = PH_RUN;
            } else if (now - t_sync_start > 30000000000LL) {
                logerr("barrier timeout: %d of %d clients never heard it", o_clients - n_synced,
                       o_clients);
                stop_reason = "barrier_timeout";
                break;
            } else if (now >= t_next_sync) {
                send_sync(0, sync_k++);
                t_next_sync = now + 300000000LL;
            }
        }
        if (phase == PH_RUN && t_start == 0) {
            t_start = t_last_deliv = now;
            cpu_start = cpu_seconds();
            fprintf(stderr, "RUN connect_s=%.3f ready_s=%.3f\n", (t_connected - t0) / 1e9,
                    (t_ready - t0) / 1e9);
            fflush(stderr);
        }
        if (phase == PH_RUN) {
            if (o_rate > 0)
                rate_send(now);
            else
                refill_window();
            if (delivered >= expected) {
                stop_reason = "complete";
                break;
            }
            if (now - t_last_deliv > (int64_t)o_stall_ms * 1000000) {
                stop_reason = "stalled";
                break;
            }
            if (n_dead) {
                stop_reason = "client_died";
                break;
            }
        }
        if (now >= deadline) {
            stop_reason = "timeout";
            break;
        }
        flush_dirty();

        int64_t wake = deadline;
        if (phase == PH_SETTLE && t_settle_end < wake)
            wake = t_settle_end;
        if (phase == PH_SYNC && t_next_sync < wake)
            wake = t_next_sync;
        if (phase == PH_RUN && o_rate > 0 && rate_next_idx < total_msgs) {
            int64_t d = rate_due(rate_next_idx);
            if (d < wake)
                wake = d;
        }
        if (wake > now + 100000000LL)
            wake = now + 100000000LL; /* check the stall and the deadline every 100 ms */
        int64_t dt = wake > now ? wake - now : 0;
        struct timespec ts = {.tv_sec = dt / 1000000000LL, .tv_nsec = dt % 1000000000LL};
        int n = epoll_pwait2(epfd, evs, MAX_EVENTS, &ts, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOSYS)
                n = epoll_wait(epfd, evs, MAX_EVENTS, (int)((dt + 999999) / 1000000));
            if (n < 0) {
                perror("epoll_wait");
                break;
            }
        }
        for (int k = 0; k < n; k++) {
            int i = (int)evs[k].data.u32;
            client_t *c = &cl[i];
            uint32_t e = evs[k].events;
            if (c->state == ST_DEAD)
                continue;
            if (c->state == ST_CONNECTING) {
                if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
                    int err = 0;
                    socklen_t el = sizeof err;
                    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                    if (err)
                        client_dead(i, strerror(err));
                    else
                        on_connected(i);
                }
                continue;
            }
            if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                do_read(i);
                if (c->state == ST_DEAD)
                    continue;
            }
            if (e & EPOLLOUT)
                flush_client(i);
        }
    }
    int64_t t_end = now_ns();
    double cpu_used = t_start ? cpu_seconds() - cpu_start : 0;
    int64_t t_stop = t_last_deliv > t_start ? t_last_deliv : t_end;
    double secs = t_start ? (t_stop - t_start) / 1e9 : 0;
    if (secs <= 0)
        secs = 1e-9;
    double wall = t_start ? (t_end - t_start) / 1e9 : 0;
    uint64_t lost = delivered < expected ? expected - delivered : 0;
    int64_t sent = all_sent();
    printf("{\"mode\":\"%s\",\"proto\":\"ws\",\"clients\":%d,\"senders\":%d,\"msgs\":%ld,"
           "\"window\":%d,\"rate\":%.1f,\"size\":%d,"
           "\"expected\":%llu,\"delivered\":%llu,\"lost\":%llu,\"out_of_order\":%llu,"
           "\"gaps\":%llu,\"corrupt\":%llu,\"server_errors\":%llu,\"sent\":%lld,"
           "\"seconds\":%.4f,\"deliveries_per_s\":%.1f,\"msgs_per_s\":%.1f,"
           "\"lat_p50_us\":%llu,\"lat_p90_us\":%llu,\"lat_p99_us\":%llu,\"lat_p999_us\":%llu,"
           "\"lat_max_us\":%llu,\"connect_s\":%.3f,\"ready_s\":%.3f,\"errors\":%d,"
           "\"stop_reason\":\"%s\",\"loadgen_cpu_pct\":%.1f,\"bytes_in\":%llu,\"frames_in\":%llu,"
           "\"untagged\":%llu,\"synced\":%d}\n",
           o_rate > 0 ? "rate" : "window", o_clients, o_senders, o_msgs, o_window, o_rate, o_size,
           (unsigned long long)expected, (unsigned long long)delivered, (unsigned long long)lost,
           (unsigned long long)ooo, (unsigned long long)gaps, (unsigned long long)corrupt,
           (unsigned long long)server_errors, (long long)sent, secs, delivered / secs, sent / secs,
           (unsigned long long)hist_pct(0.50), (unsigned long long)hist_pct(0.90),
           (unsigned long long)hist_pct(0.99), (unsigned long long)hist_pct(0.999),
           (unsigned long long)lat_max_us, t_connected ? (t_connected - t0) / 1e9 : -1.0,
           t_ready ? (t_ready - t0) / 1e9 : -1.0, errors, stop_reason,
           wall > 0 ? 100.0 * cpu_used / wall : 0.0, (unsigned long long)bytes_in,
           (unsigned long long)frames_in, (unsigned long long)untagged, n_synced);
    fflush(stdout);
    /* An abortive close: no TIME_WAIT pile-up from run to run. */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    for (int i = 0; i < o_clients; i++) {
        if (cl[i].fd >= 0) {
            setsockopt(cl[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            close(cl[i].fd);
        }
    }
    return 0;
}
