/*
 * The native UDP hot path of `homeops dns serve` (Linux).
 *
 * Node delivers one datagram per event-loop callback and sends one per
 * syscall; past ~50 000 queries a second that overhead, not homeops' code, is
 * the limit. This addon takes over *reading* a bound UDP socket from libuv and
 * answers on a thread of its own, in batches: recvmmsg(2), look each plain
 * query up in a table of responses that JavaScript pre-encoded with dns2,
 * copy with the query's ID, flags and name bytes patched in, sendmmsg(2).
 * Everything it does not answer (a miss, anything unusual) goes to
 * JavaScript untouched, through a thread-safe function, and is answered by
 * the full path there. The rules for "plain query", the patching, the
 * forwarded answers' TTL countdown and the blocklist answers are in
 * dns_core.h, and only there.
 *
 * It also applies the server's source limiter before anything else: a token
 * bucket per source when a rate is configured, and fair sharing when the
 * thread is saturated (the same rules as src/lib/dns/rate-limit.ts).
 *
 * The packet logic (table, lookup, patch, limiter) is in dns_core.h, which
 * native/fuzz.c runs under the sanitizers; this file is the I/O, the thread
 * and the N-API binding. Every read of a packet is bounds-checked against its
 * length; a packet is never written to. The thread never calls into V8.
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#define NAPI_VERSION 8
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns_core.h"

#define BATCH 64
#define RECV_SIZE 65536 /* a whole UDP datagram: the full path decides about oversized ones */
#define BUCKET_COUNT 15
#define WINDOW_SECONDS 0.25
#define MISS_QUEUE 4096

static const double BUCKETS[BUCKET_COUNT] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                             0.025,   0.05,   0.1,     0.25,   0.5,   1,     2.5};

static void table_unref(table_t *t) {
  pthread_mutex_lock(&t->lock);
  int left = --t->refs;
  pthread_mutex_unlock(&t->lock);
  if (left > 0) return;
  map_free(&t->main);
  map_free(&t->dynamic);
  map_free(&t->forward);
  sinks_free(&t->sinks);
  if (t->sinks_keep) napi_delete_reference((napi_env)t->env, (napi_ref)t->sinks_keep);
  pthread_mutex_destroy(&t->lock);
  free(t);
}

/* ---- counters, read and reset by JavaScript ------------------------------ */

typedef struct {
  double queries[METRIC_COUNT];
  double per_bucket[BUCKET_COUNT];
  double answer_sum, answer_count;
  double rate_limited, send_errors, overloaded, cache_hits;
} counters_t;

/* ---- an answerer: one socket, one thread -------------------------------- */

typedef struct {
  size_t count;
  struct {
    uint8_t *data;
    size_t len;
    char address[INET6_ADDRSTRLEN];
    int port;
  } items[BATCH];
} miss_batch_t;

typedef struct {
  int fd, wake_fd;
  size_t max_udp;
  table_t *table;
  pthread_t thread;
  int running;
  napi_threadsafe_function on_miss;
  limiter_t limiter;
  pthread_mutex_t counters_lock;
  counters_t counters;
  /* thread-owned buffers */
  struct mmsghdr recv_hdrs[BATCH], send_hdrs[BATCH];
  struct iovec recv_iov[BATCH], send_iov[BATCH];
  struct sockaddr_storage addrs[BATCH];
  uint8_t *recv_buf; /* BATCH × RECV_SIZE */
  uint8_t *send_buf; /* BATCH × SEND_SIZE */
} answerer_t;

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void source_of(const struct sockaddr_storage *ss, int *family, const uint8_t **addr) {
  if (ss->ss_family == AF_INET6) {
    *family = 6;
    *addr = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
  } else {
    *family = 4;
    *addr = (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr.s_addr;
  }
}

static void queue_miss(miss_batch_t **batch, const uint8_t *msg, size_t len, const struct sockaddr_storage *ss) {
  if (!*batch) {
    *batch = calloc(1, sizeof(miss_batch_t));
    if (!*batch) return;
  }
  miss_batch_t *b = *batch;
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) return;
  memcpy(copy, msg, len);
  size_t i = b->count++;
  b->items[i].data = copy;
  b->items[i].len = len;
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &a6->sin6_addr, b->items[i].address, sizeof(b->items[i].address));
    b->items[i].port = ntohs(a6->sin6_port);
  } else {
    const struct sockaddr_in *a4 = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &a4->sin_addr, b->items[i].address, sizeof(b->items[i].address));
    b->items[i].port = ntohs(a4->sin_port);
  }
}

static void free_batch(miss_batch_t *b) {
  if (!b) return;
  for (size_t i = 0; i < b->count; i++) free(b->items[i].data);
  free(b);
}

/* Sends what is queued; returns how many were not sent (a full send buffer gets one short wait first). */
static size_t send_all(answerer_t *a, size_t count) {
  size_t done = 0, failed = 0;
  int waited = 0;
  while (done < count) {
    int n = sendmmsg(a->fd, a->send_hdrs + done, (unsigned)(count - done), MSG_DONTWAIT);
    if (n > 0) {
      done += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !waited) {
      struct pollfd pfd = {a->fd, POLLOUT, 0};
      poll(&pfd, 1, 5);
      waited = 1;
      continue;
    }
    /* A datagram the kernel refused (e.g. an unreachable peer): skip it, keep the rest. */
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      done++;
      failed++;
      continue;
    }
    break;
  }
  return failed + (count - done);
}

/* One recvmmsg batch; returns how many datagrams it read (0: none waiting). */
static int answer_batch(answerer_t *a, counters_t *local) {
  for (int i = 0; i < BATCH; i++) {
    a->recv_hdrs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    a->recv_hdrs[i].msg_hdr.msg_flags = 0;
  }
  int n = recvmmsg(a->fd, a->recv_hdrs, BATCH, MSG_DONTWAIT, NULL);
  if (n <= 0) return 0;
  double received = now_seconds();
  size_t answers = 0;
  miss_batch_t *misses = NULL;
  pthread_mutex_lock(&a->table->lock);
  for (int i = 0; i < n; i++) {
    const uint8_t *msg = a->recv_buf + (size_t)i * RECV_SIZE;
    size_t len = a->recv_hdrs[i].msg_len;
    int family;
    const uint8_t *addr;
    source_of(&a->addrs[i], &family, &addr);
    if (!limiter_allow(&a->limiter, family, addr, received)) {
      local->rate_limited++;
      continue;
    }
    uint8_t *out = a->send_buf + answers * SEND_SIZE;
    uint16_t metric = 0;
    int from_cache = 0;
    size_t out_len = (a->recv_hdrs[i].msg_hdr.msg_flags & MSG_TRUNC)
                         ? 0
                         : answer_query(a->table, msg, len, a->max_udp, received, out, &metric, &from_cache);
    if (out_len == 0) {
      queue_miss(&misses, msg, len, &a->addrs[i]);
      continue;
    }
    a->send_iov[answers].iov_base = out;
    a->send_iov[answers].iov_len = out_len;
    a->send_hdrs[answers].msg_hdr.msg_name = &a->addrs[i];
    a->send_hdrs[answers].msg_hdr.msg_namelen = a->recv_hdrs[i].msg_hdr.msg_namelen;
    if (from_cache) local->cache_hits++;
    local->queries[metric < METRIC_COUNT ? metric : METRIC_COUNT - 1]++;
    answers++;
  }
  pthread_mutex_unlock(&a->table->lock);
  if (answers > 0) {
    size_t failed = send_all(a, answers);
    local->send_errors += (double)failed;
    double took = now_seconds() - received;
    int b = 0;
    while (b < BUCKET_COUNT && took > BUCKETS[b]) b++;
    if (b < BUCKET_COUNT) local->per_bucket[b] += (double)answers;
    local->answer_sum += took * (double)answers;
    local->answer_count += (double)answers;
  }
  if (misses) {
    if (napi_call_threadsafe_function(a->on_miss, misses, napi_tsfn_nonblocking) != napi_ok) {
      local->overloaded += (double)misses->count;
      free_batch(misses);
    }
  }
  return n;
}

static void merge_counters(answerer_t *a, counters_t *local) {
  pthread_mutex_lock(&a->counters_lock);
  counters_t *c = &a->counters;
  for (int i = 0; i < METRIC_COUNT; i++) c->queries[i] += local->queries[i];
  for (int i = 0; i < BUCKET_COUNT; i++) c->per_bucket[i] += local->per_bucket[i];
  c->answer_sum += local->answer_sum;
  c->answer_count += local->answer_count;
  c->rate_limited += local->rate_limited;
  c->send_errors += local->send_errors;
  c->overloaded += local->overloaded;
  c->cache_hits += local->cache_hits;
  pthread_mutex_unlock(&a->counters_lock);
  memset(local, 0, sizeof(*local));
}

static void *run(void *arg) {
  answerer_t *a = arg;
  struct pollfd pfds[2] = {{a->fd, POLLIN, 0}, {a->wake_fd, POLLIN, 0}};
  counters_t local;
  memset(&local, 0, sizeof(local));
  double window_start = now_seconds();
  double busy = 0;
  for (;;) {
    double until = window_start + WINDOW_SECONDS - now_seconds();
    int timeout = until <= 0 ? 0 : (int)(until * 1000) + 1;
    int ready = poll(pfds, 2, timeout);
    double woke = now_seconds();
    if (ready < 0 && errno != EINTR) break;
    if (pfds[1].revents) break;
    if (pfds[0].revents & POLLNVAL) break;
    if (ready > 0 && (pfds[0].revents & (POLLIN | POLLERR))) {
      /* Drain what is waiting before polling again, but look at the clock and the wake fd now and then. */
      for (int round = 0; round < 16; round++)
        if (answer_batch(a, &local) < BATCH) break;
      merge_counters(a, &local);
    }
    double after = now_seconds();
    busy += after - woke;
    if (after - window_start >= WINDOW_SECONDS) {
      limiter_tick(&a->limiter, busy / (after - window_start), after);
      window_start = after;
      busy = 0;
    }
  }
  merge_counters(a, &local);
  return NULL;
}

/* ---- the JavaScript side -------------------------------------------------- */

#define CHECK(call)                                                                                  \
  do {                                                                                               \
    if ((call) != napi_ok) {                                                                         \
      const napi_extended_error_info *info = NULL;                                                   \
      napi_get_last_error_info(env, &info);                                                          \
      napi_throw_error(env, NULL, info && info->error_message ? info->error_message : "napi failed"); \
      return NULL;                                                                                   \
    }                                                                                                \
  } while (0)

static napi_value undefined_value(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static int get_buffer(napi_env env, napi_value value, uint8_t **data, size_t *len) {
  bool is_buffer = false;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer) return -1;
  void *p = NULL;
  if (napi_get_buffer_info(env, value, &p, len) != napi_ok) return -1;
  *data = p;
  return 0;
}

static int get_u32(napi_env env, napi_value value, uint32_t *out) {
  return napi_get_value_uint32(env, value, out) == napi_ok ? 0 : -1;
}

static void table_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  table_unref(data);
}

/* Tags on the externals, so a table can never be taken for an answerer or the other way round. */
static const napi_type_tag TABLE_TAG = {0x9d3c1f2a6b7e4c11ULL, 0x8a5e2d4f1c3b7a90ULL};
static const napi_type_tag ANSWERER_TAG = {0x51c0ffee2b6d4e07ULL, 0xa7e94d2c3f1b8e65ULL};

static void *unwrap(napi_env env, napi_value value, const napi_type_tag *tag, const char *expected) {
  bool tagged = false;
  void *p = NULL;
  if (napi_check_object_type_tag(env, value, tag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, value, &p) != napi_ok || !p) {
    napi_throw_type_error(env, NULL, expected);
    return NULL;
  }
  return p;
}

static table_t *unwrap_table(napi_env env, napi_value value) { return unwrap(env, value, &TABLE_TAG, "expected a table"); }

/* createTable() → table */
static napi_value create_table(napi_env env, napi_callback_info info) {
  (void)info;
  table_t *t = calloc(1, sizeof(table_t));
  if (!t) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&t->lock, NULL);
  t->refs = 1;
  t->env = env;
  napi_value out;
  if (napi_create_external(env, t, table_finalize, NULL, &out) != napi_ok) {
    table_unref(t);
    napi_throw_error(env, NULL, "cannot create the table");
    return NULL;
  }
  /* From here on the finalizer owns `t`. */
  CHECK(napi_type_tag_object(env, out, &TABLE_TAG));
  return out;
}

/* One [key, plain, edns, questionLength, metric] tuple into an entry; `extra`: TTL offsets (forwarded answers). */
static int read_entry_with(napi_env env, napi_value tuple, entry_t *e, const uint8_t *extra, size_t extra_len) {
  napi_value parts[5];
  for (uint32_t i = 0; i < 5; i++)
    if (napi_get_element(env, tuple, i, &parts[i]) != napi_ok) return -1;
  uint8_t *key, *plain, *edns;
  size_t key_len, plain_len, edns_len;
  uint32_t question_len, metric;
  if (get_buffer(env, parts[0], &key, &key_len) || get_buffer(env, parts[1], &plain, &plain_len) ||
      get_buffer(env, parts[2], &edns, &edns_len) || get_u32(env, parts[3], &question_len) ||
      get_u32(env, parts[4], &metric))
    return -1;
  /* The patch writes the question over bytes 12…12+qlen and the DO bit 4 bytes before the end. */
  if (key_len == 0 || key_len > MAX_KEY || question_len != key_len || plain_len > 65535 || edns_len > 65535 ||
      plain_len < HEADER + question_len || edns_len < HEADER + question_len + 11)
    return -1;
  memset(e, 0, sizeof(*e));
  uint8_t *block = malloc(key_len + plain_len + edns_len + extra_len);
  if (!block) return -1;
  memcpy(block, key, key_len);
  memcpy(block + key_len, plain, plain_len);
  memcpy(block + key_len + plain_len, edns, edns_len);
  if (extra_len) memcpy(block + key_len + plain_len + edns_len, extra, extra_len);
  e->ttl_offsets = block + key_len + plain_len + edns_len;
  e->ttl_count = (uint16_t)(extra_len / 2);
  e->key = block;
  e->plain = block + key_len;
  e->edns = block + key_len + plain_len;
  e->key_len = (uint16_t)key_len;
  e->plain_len = (uint16_t)plain_len;
  e->edns_len = (uint16_t)edns_len;
  e->question_len = (uint16_t)question_len;
  e->metric = (uint16_t)(metric < METRIC_COUNT ? metric : METRIC_COUNT - 1);
  e->hash = hash_bytes(key, key_len);
  return 0;
}

static int read_entry(napi_env env, napi_value tuple, entry_t *e) { return read_entry_with(env, tuple, e, NULL, 0); }

/*
 * setTable(table, entries, sinks?) → entries skipped: replaces every answer (and forgets the dynamic
 * ones). An entry that is not well-formed is skipped and counted, never thrown about: a bad answer must
 * not stop the server. `sinks`: {names: Buffer of [bits][len][wire name]…, ttl, ra, metricA, metricAaaa}.
 */
static napi_value set_table(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  table_t *t = unwrap_table(env, argv[0]);
  if (!t) return NULL;
  uint32_t count = 0;
  CHECK(napi_get_array_length(env, argv[1], &count));
  map_t fresh = {0};
  uint32_t skipped = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value tuple;
    entry_t e;
    if (napi_get_element(env, argv[1], i, &tuple) != napi_ok || read_entry(env, tuple, &e) != 0) {
      skipped++;
      continue;
    }
    if (map_put(&fresh, &e) != 0) {
      free(e.key);
      skipped++;
    }
  }
  sinks_t sinks = {0};
  napi_ref keep = NULL;
  napi_valuetype kind = napi_undefined;
  if (argc >= 3) napi_typeof(env, argv[2], &kind);
  if (kind == napi_object) {
    napi_value v;
    uint8_t *names = NULL;
    size_t names_len = 0;
    uint32_t ttl = 0, ra = 0, metric_a = 0, metric_aaaa = 0;
    /* The names stay in the caller's Buffer (a million of them: no second copy); a reference keeps it alive. */
    if (napi_get_named_property(env, argv[2], "names", &v) != napi_ok || get_buffer(env, v, &names, &names_len) ||
        sinks_build(&sinks, names, names_len, 0) != 0)
      skipped++;
    else if (sinks.count > 0 && napi_create_reference(env, v, 1, &keep) != napi_ok) {
      sinks_free(&sinks);
      memset(&sinks, 0, sizeof(sinks));
      skipped++;
    }
    if (napi_get_named_property(env, argv[2], "ttl", &v) == napi_ok) get_u32(env, v, &ttl);
    if (napi_get_named_property(env, argv[2], "ra", &v) == napi_ok) get_u32(env, v, &ra);
    if (napi_get_named_property(env, argv[2], "metricA", &v) == napi_ok) get_u32(env, v, &metric_a);
    if (napi_get_named_property(env, argv[2], "metricAaaa", &v) == napi_ok) get_u32(env, v, &metric_aaaa);
    sinks.ttl = ttl;
    sinks.ra = ra ? 1 : 0;
    sinks.metric_a = (uint16_t)(metric_a < METRIC_COUNT ? metric_a : METRIC_COUNT - 1);
    sinks.metric_aaaa = (uint16_t)(metric_aaaa < METRIC_COUNT ? metric_aaaa : METRIC_COUNT - 1);
  }
  pthread_mutex_lock(&t->lock);
  map_t old_main = t->main, old_dynamic = t->dynamic;
  sinks_t old_sinks = t->sinks;
  napi_ref old_keep = t->sinks_keep;
  t->main = fresh;
  t->sinks = sinks;
  t->sinks_keep = keep;
  memset(&t->dynamic, 0, sizeof(t->dynamic));
  pthread_mutex_unlock(&t->lock);
  map_free(&old_main);
  map_free(&old_dynamic);
  sinks_free(&old_sinks);
  if (old_keep) napi_delete_reference(env, old_keep);
  napi_value out;
  CHECK(napi_create_uint32(env, skipped, &out));
  return out;
}

/*
 * putForward(table, entry, ttlOffsets, ttlSeconds, noDo): a forwarded answer from the cache; the thread
 * counts its TTLs (at the 2-byte big-endian offsets) down and stops answering it after ttlSeconds.
 * Returns false when it was not kept (not well-formed).
 */
static napi_value put_forward(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  table_t *t = unwrap_table(env, argv[0]);
  if (!t) return NULL;
  uint8_t *offsets = NULL;
  size_t offsets_len = 0;
  double ttl = 0;
  bool no_do = false;
  entry_t e;
  bool kept = false;
  if (argc >= 5 && get_buffer(env, argv[2], &offsets, &offsets_len) == 0 && offsets_len % 2 == 0 &&
      offsets_len / 2 <= 65535 && napi_get_value_double(env, argv[3], &ttl) == napi_ok && ttl > 0 &&
      napi_get_value_bool(env, argv[4], &no_do) == napi_ok &&
      read_entry_with(env, argv[1], &e, offsets, offsets_len) == 0) {
    e.flags = ENTRY_FORWARD | (no_do ? ENTRY_NO_DO : 0);
    e.stored = now_seconds();
    e.expires = e.stored + ttl;
    pthread_mutex_lock(&t->lock);
    int failed = map_put(&t->forward, &e);
    pthread_mutex_unlock(&t->lock);
    if (failed) free(e.key);
    kept = !failed;
  }
  napi_value out;
  CHECK(napi_get_boolean(env, kept, &out));
  return out;
}

/* deleteForward(table, key): the forwarding cache evicted it. */
static napi_value delete_forward(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  table_t *t = unwrap_table(env, argv[0]);
  if (!t) return NULL;
  uint8_t *key = NULL;
  size_t key_len = 0;
  if (argc < 2 || get_buffer(env, argv[1], &key, &key_len) != 0) {
    napi_throw_type_error(env, NULL, "deleteForward: expected a key");
    return NULL;
  }
  uint32_t h = hash_bytes(key, key_len);
  pthread_mutex_lock(&t->lock);
  map_t old = {0};
  if (key_len == 0) { /* an empty key: forget every forwarded answer */
    old = t->forward;
    memset(&t->forward, 0, sizeof(t->forward));
  } else
    map_del(&t->forward, key, key_len, h);
  pthread_mutex_unlock(&t->lock);
  map_free(&old);
  return undefined_value(env);
}

/* addDynamic(table, entry, max): one answer JavaScript encoded on demand; the dynamic set is cleared at max. */
static napi_value add_dynamic(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  table_t *t = unwrap_table(env, argv[0]);
  if (!t) return NULL;
  uint32_t max = 0;
  entry_t e;
  if (read_entry(env, argv[1], &e) != 0 || get_u32(env, argv[2], &max) != 0) {
    napi_throw_type_error(env, NULL, "addDynamic: bad entry");
    return NULL;
  }
  map_t old = {0};
  pthread_mutex_lock(&t->lock);
  if (t->dynamic.count >= max) {
    old = t->dynamic;
    memset(&t->dynamic, 0, sizeof(t->dynamic));
  }
  int failed = map_put(&t->dynamic, &e);
  pthread_mutex_unlock(&t->lock);
  map_free(&old);
  if (failed) free(e.key);
  return undefined_value(env);
}

static void call_on_miss(napi_env env, napi_value callback, void *context, void *data) {
  (void)context;
  miss_batch_t *batch = data;
  if (env && callback && batch) {
    napi_value global;
    napi_get_global(env, &global);
    for (size_t i = 0; i < batch->count; i++) {
      napi_value args[3];
      if (napi_create_buffer_copy(env, batch->items[i].len, batch->items[i].data, NULL, &args[0]) != napi_ok ||
          napi_create_string_utf8(env, batch->items[i].address, NAPI_AUTO_LENGTH, &args[1]) != napi_ok ||
          napi_create_int32(env, batch->items[i].port, &args[2]) != napi_ok)
        break;
      napi_value ignored;
      if (napi_call_function(env, global, callback, 3, args, &ignored) != napi_ok) {
        /* The callback threw: it is the caller's bug, not a reason to stop serving. */
        napi_value exception;
        napi_get_and_clear_last_exception(env, &exception);
      }
    }
  }
  free_batch(batch);
}

static void answerer_stop(answerer_t *a) {
  if (!a->running) return;
  uint64_t one = 1;
  ssize_t ignored = write(a->wake_fd, &one, sizeof(one));
  (void)ignored;
  pthread_join(a->thread, NULL);
  a->running = 0;
}

static void answerer_release(answerer_t *a) {
  if (a->on_miss) {
    napi_release_threadsafe_function(a->on_miss, napi_tsfn_release);
    a->on_miss = NULL;
  }
  if (a->table) {
    table_unref(a->table);
    a->table = NULL;
  }
  if (a->wake_fd >= 0) close(a->wake_fd);
  a->wake_fd = -1;
  free(a->limiter.slots);
  a->limiter.slots = NULL;
  free(a->recv_buf);
  free(a->send_buf);
  a->recv_buf = a->send_buf = NULL;
}

static void answerer_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  answerer_t *a = data;
  answerer_stop(a);
  answerer_release(a);
  pthread_mutex_destroy(&a->counters_lock);
  free(a);
}

static answerer_t *unwrap_answerer(napi_env env, napi_value value) {
  return unwrap(env, value, &ANSWERER_TAG, "expected an answerer");
}


/*
 * open(fd, table, {maxUdp, perSource, maxSources}, onMiss(msg, address, port)) → answerer
 * Starts the thread reading `fd`; the caller must have stopped libuv reading it.
 */
static napi_value open_answerer(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  table_t *t = unwrap_table(env, argv[1]);
  if (!t) return NULL;
  napi_value v;
  uint32_t max_udp = 1232, max_sources = 10000;
  double per_source = 0;
  if (napi_get_named_property(env, argv[2], "maxUdp", &v) == napi_ok) napi_get_value_uint32(env, v, &max_udp);
  if (napi_get_named_property(env, argv[2], "perSource", &v) == napi_ok) napi_get_value_double(env, v, &per_source);
  if (napi_get_named_property(env, argv[2], "maxSources", &v) == napi_ok) napi_get_value_uint32(env, v, &max_sources);
  if (fd < 0 || max_udp < 512 || max_udp > SEND_SIZE || max_sources < 1 || !(per_source >= 0)) {
    napi_throw_range_error(env, NULL, "open: bad fd or options");
    return NULL;
  }

  answerer_t *a = calloc(1, sizeof(answerer_t));
  if (!a) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&a->counters_lock, NULL);
  a->fd = fd;
  a->max_udp = max_udp;
  a->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  a->limiter.per_source = per_source;
  a->limiter.max_sources = max_sources;
  a->limiter.cap = next_pow2((size_t)max_sources * 2);
  a->limiter.slots = calloc(a->limiter.cap, sizeof(source_t));
  a->limiter.overflow.used = 1;
  a->limiter.overflow.tokens = per_source;
  a->limiter.overflow.last = now_seconds();
  a->recv_buf = malloc((size_t)BATCH * RECV_SIZE);
  a->send_buf = malloc((size_t)BATCH * SEND_SIZE);
  pthread_mutex_lock(&t->lock);
  t->refs++;
  pthread_mutex_unlock(&t->lock);
  a->table = t;
  napi_value name;
  napi_create_string_utf8(env, "homeops-dns-miss", NAPI_AUTO_LENGTH, &name);
  int ok = a->wake_fd >= 0 && a->limiter.slots && a->recv_buf && a->send_buf &&
           napi_create_threadsafe_function(env, argv[3], NULL, name, MISS_QUEUE, 1, NULL, NULL, NULL, call_on_miss,
                                           &a->on_miss) == napi_ok;
  if (ok) {
    /* The thread must not keep the process alive on its own: the socket does that. */
    napi_unref_threadsafe_function(env, a->on_miss);
    for (int i = 0; i < BATCH; i++) {
      a->recv_iov[i].iov_base = a->recv_buf + (size_t)i * RECV_SIZE;
      a->recv_iov[i].iov_len = RECV_SIZE;
      a->recv_hdrs[i].msg_hdr.msg_iov = &a->recv_iov[i];
      a->recv_hdrs[i].msg_hdr.msg_iovlen = 1;
      a->recv_hdrs[i].msg_hdr.msg_name = &a->addrs[i];
      a->send_hdrs[i].msg_hdr.msg_iov = &a->send_iov[i];
      a->send_hdrs[i].msg_hdr.msg_iovlen = 1;
    }
    ok = pthread_create(&a->thread, NULL, run, a) == 0;
    a->running = ok;
  }
  napi_value out;
  if (!ok || napi_create_external(env, a, answerer_finalize, NULL, &out) != napi_ok) {
    answerer_stop(a);
    answerer_release(a);
    pthread_mutex_destroy(&a->counters_lock);
    free(a);
    napi_throw_error(env, NULL, "cannot start the native DNS answerer");
    return NULL;
  }
  /* From here on the finalizer owns `a` (and stops its thread). */
  CHECK(napi_type_tag_object(env, out, &ANSWERER_TAG));
  return out;
}

/* close(answerer): stops the thread (waits for it); the socket is the caller's to close afterwards. */
static napi_value close_answerer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  answerer_t *a = unwrap_answerer(env, argv[0]);
  if (!a) return NULL;
  answerer_stop(a);
  answerer_release(a);
  return undefined_value(env);
}

static napi_value number_array(napi_env env, const double *values, size_t n) {
  napi_value arr;
  napi_create_array_with_length(env, n, &arr);
  for (size_t i = 0; i < n; i++) {
    napi_value v;
    napi_create_double(env, values[i], &v);
    napi_set_element(env, arr, (uint32_t)i, v);
  }
  return arr;
}

static void set_number(napi_env env, napi_value obj, const char *key, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, obj, key, v);
}

/* takeStats(answerer) → counters since the last call, in the DnsStatsJson shape. */
static napi_value take_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  answerer_t *a = unwrap_answerer(env, argv[0]);
  if (!a) return NULL;
  counters_t c;
  pthread_mutex_lock(&a->counters_lock);
  c = a->counters;
  memset(&a->counters, 0, sizeof(a->counters));
  pthread_mutex_unlock(&a->counters_lock);
  napi_value out, dropped;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "queries", number_array(env, c.queries, METRIC_COUNT));
  napi_set_named_property(env, out, "perBucket", number_array(env, c.per_bucket, BUCKET_COUNT));
  set_number(env, out, "answerSum", c.answer_sum);
  set_number(env, out, "answerCount", c.answer_count);
  set_number(env, out, "sendErrors", c.send_errors);
  set_number(env, out, "cacheHits", c.cache_hits);
  napi_create_object(env, &dropped);
  set_number(env, dropped, "malformed", 0);
  set_number(env, dropped, "rateLimited", c.rate_limited);
  set_number(env, dropped, "tcpRejected", 0);
  set_number(env, dropped, "overloaded", c.overloaded);
  napi_set_named_property(env, out, "dropped", dropped);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"createTable", NULL, create_table, NULL, NULL, NULL, napi_default, NULL},
      {"setTable", NULL, set_table, NULL, NULL, NULL, napi_default, NULL},
      {"addDynamic", NULL, add_dynamic, NULL, NULL, NULL, napi_default, NULL},
      {"putForward", NULL, put_forward, NULL, NULL, NULL, napi_default, NULL},
      {"deleteForward", NULL, delete_forward, NULL, NULL, NULL, napi_default, NULL},
      {"open", NULL, open_answerer, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_answerer, NULL, NULL, NULL, napi_default, NULL},
      {"takeStats", NULL, take_stats, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
