/*
 * The packet logic of the native DNS answerer, without any I/O or N-API: the
 * table of pre-encoded answers (owned names, and forwarded answers from the
 * cache with their TTLs counted down), the set of blocklist ("sink") names
 * whose answers are synthesised, the rules of a "plain query" and the patch
 * of an answer. These rules exist only here: everything else is answered by
 * the full path in JavaScript (dns2). Also the per-source limiter (the rules
 * of src/lib/dns/rate-limit.ts). Included by udp_answerer.c, and by fuzz.c,
 * which runs it under AddressSanitizer and UndefinedBehaviorSanitizer
 * (test/integration/dns/native-fuzz.test.ts).
 */
#ifndef HOMEOPS_DNS_CORE_H
#define HOMEOPS_DNS_CORE_H

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HEADER 12
#define SEND_SIZE 4096  /* dns.maxUdpSize is at most 4096 */
#define MAX_KEY 512
#define METRIC_COUNT (12 * 8)

/* ---- the table of pre-encoded answers ---------------------------------- */

#define ENTRY_FORWARD 1 /* a forwarded answer: expires, TTLs count down */
#define ENTRY_NO_DO 2   /* answers queries without the DO bit only */

typedef struct {
  uint32_t hash;
  uint16_t key_len, plain_len, edns_len, question_len, metric;
  uint16_t ttl_count; /* forwarded: TTL fields to count down */
  uint8_t flags;
  double stored, expires; /* forwarded: monotonic seconds */
  uint8_t *key;           /* key, plain, edns, then 2-byte TTL offsets, in one allocation */
  uint8_t *plain;
  uint8_t *edns;
  uint8_t *ttl_offsets;
} entry_t;

/* Blocklist names: [bits][wire length][wire name]… in one buffer; bit 1: A 0.0.0.0, bit 2: AAAA ::. */
typedef struct {
  uint8_t *names;
  int owned; /* names is ours to free (else borrowed from a JavaScript Buffer the caller keeps alive) */
  size_t names_len;
  uint32_t *slots; /* offset + 1 into names; 0: empty */
  uint32_t *hashes;
  size_t cap, count;
  uint32_t ttl;
  uint8_t ra;
  uint16_t metric_a, metric_aaaa;
} sinks_t;

typedef struct {
  entry_t *slots; /* open addressing; key == NULL: empty */
  size_t cap;     /* a power of two, or 0 */
  size_t count;
} map_t;

typedef struct {
  pthread_mutex_t lock;
  map_t main;    /* replaced whole when the records change */
  map_t dynamic; /* answers JavaScript encoded on demand (NXDOMAIN, wildcards, …) */
  map_t forward; /* the forwarding cache (JavaScript adds and evicts; expiry is checked here) */
  sinks_t sinks; /* replaced whole with main */
  int refs;      /* the JS object plus every answerer using it */
  void *env;        /* udp_answerer.c: the napi_env, to release sinks_keep */
  void *sinks_keep; /* udp_answerer.c: a napi_ref to the Buffer the sinks' names live in */
} table_t;

static uint32_t hash_bytes(const uint8_t *p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static void map_free(map_t *m) {
  for (size_t i = 0; i < m->cap; i++) free(m->slots[i].key);
  free(m->slots);
  m->slots = NULL;
  m->cap = m->count = 0;
}

static int map_grow(map_t *m) {
  size_t cap = m->cap ? m->cap * 2 : 64;
  entry_t *slots = calloc(cap, sizeof(entry_t));
  if (!slots) return -1;
  for (size_t i = 0; i < m->cap; i++) {
    entry_t *e = &m->slots[i];
    if (!e->key) continue;
    size_t j = e->hash & (cap - 1);
    while (slots[j].key) j = (j + 1) & (cap - 1);
    slots[j] = *e;
  }
  free(m->slots);
  m->slots = slots;
  m->cap = cap;
  return 0;
}

/* Takes ownership of e->key (the allocation); replaces an entry with the same key. */
static int map_put(map_t *m, entry_t *e) {
  if ((m->count + 1) * 2 > m->cap && map_grow(m) != 0) return -1;
  size_t j = e->hash & (m->cap - 1);
  for (;; j = (j + 1) & (m->cap - 1)) {
    entry_t *s = &m->slots[j];
    if (!s->key) {
      *s = *e;
      m->count++;
      return 0;
    }
    if (s->hash == e->hash && s->key_len == e->key_len && memcmp(s->key, e->key, e->key_len) == 0) {
      free(s->key);
      *s = *e;
      return 0;
    }
  }
}

/* Removes the entry with this key (backward-shift deletion keeps every probe chain intact). */
static void map_del(map_t *m, const uint8_t *key, size_t len, uint32_t hash) {
  if (m->cap == 0) return;
  size_t mask = m->cap - 1, j = hash & mask;
  for (;; j = (j + 1) & mask) {
    entry_t *s = &m->slots[j];
    if (!s->key) return;
    if (s->hash == hash && s->key_len == len && memcmp(s->key, key, len) == 0) break;
  }
  free(m->slots[j].key);
  m->slots[j].key = NULL;
  m->count--;
  for (size_t i = (j + 1) & mask; m->slots[i].key; i = (i + 1) & mask) {
    size_t home = m->slots[i].hash & mask;
    /* Move slot i back to the hole when its home is not between the hole and i (cyclically). */
    int between = j <= i ? (home > j && home <= i) : (home > j || home <= i);
    if (between) continue;
    m->slots[j] = m->slots[i];
    m->slots[i].key = NULL;
    j = i;
  }
}

static void sinks_free(sinks_t *s) {
  if (s->owned) free(s->names);
  free(s->slots);
  free(s->hashes);
  memset(s, 0, sizeof(*s));
}

/*
 * Builds the set from [bits][len][wire name]…; -1 when the buffer is not well-formed. `copy`: keep a copy
 * of the names, else point into `data`, which must then outlive the set.
 */
static int sinks_build(sinks_t *s, uint8_t *data, size_t len, int copy) {
  size_t count = 0;
  for (size_t p = 0; p < len;) {
    if (p + 2 > len) return -1;
    size_t n = data[p + 1];
    if (n == 0 || p + 2 + n > len || (data[p] & 3) == 0) return -1;
    p += 2 + n;
    count++;
  }
  memset(s, 0, sizeof(*s));
  if (count == 0) return 0;
  if (len >= UINT32_MAX) return -1;
  size_t cap = 64;
  while (cap < count * 2) cap <<= 1;
  s->owned = copy;
  s->names = copy ? malloc(len) : data;
  s->slots = calloc(cap, sizeof(uint32_t));
  s->hashes = calloc(cap, sizeof(uint32_t));
  if (!s->names || !s->slots || !s->hashes) {
    sinks_free(s);
    return -1;
  }
  if (copy) memcpy(s->names, data, len);
  s->names_len = len;
  s->cap = cap;
  for (size_t p = 0; p < len;) {
    size_t n = data[p + 1];
    uint32_t h = hash_bytes(data + p + 2, n);
    size_t j = h & (cap - 1);
    for (;; j = (j + 1) & (cap - 1)) {
      if (!s->slots[j]) break;
      size_t o = s->slots[j] - 1;
      if (s->hashes[j] == h && s->names[o + 1] == n && memcmp(s->names + o + 2, data + p + 2, n) == 0) break;
    }
    if (!s->slots[j]) s->count++;
    s->slots[j] = (uint32_t)p + 1; /* a repeated name: the last one wins */
    s->hashes[j] = h;
    p += 2 + n;
  }
  return 0;
}

/* The sink bits of a (lower-case) wire name, 0 when it is not a sink. */
static int sinks_get(const sinks_t *s, const uint8_t *name, size_t n) {
  if (s->cap == 0) return 0;
  uint32_t h = hash_bytes(name, n);
  for (size_t j = h & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
    if (!s->slots[j]) return 0;
    size_t o = s->slots[j] - 1;
    if (s->hashes[j] == h && s->names[o + 1] == n && memcmp(s->names + o + 2, name, n) == 0) return s->names[o] & 3;
  }
}

static const entry_t *map_get(const map_t *m, const uint8_t *key, size_t len, uint32_t hash) {
  if (m->cap == 0) return NULL;
  for (size_t j = hash & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
    const entry_t *s = &m->slots[j];
    if (!s->key) return NULL;
    if (s->hash == hash && s->key_len == len && memcmp(s->key, key, len) == 0) return s;
  }
}


/* ---- the source limiter (src/lib/dns/rate-limit.ts, in C) -------------- */

typedef struct {
  uint8_t used, family, has_limit;
  uint8_t addr[16];
  double tokens, last;
  uint32_t count;
  int64_t budget, limit;
} source_t;

typedef struct {
  double per_source; /* tokens a second; 0: no fixed rate */
  size_t max_sources;
  source_t *slots; /* open addressing, cap = 2 × max_sources rounded up to a power of two */
  size_t cap, size;
  source_t overflow; /* every source past max_sources */
  int counting;      /* the thread was saturated: count per source */
  int calm;
  uint64_t allowed_in_window;
  uint32_t sources_in_window;
} limiter_t;

static uint32_t hash_source(int family, const uint8_t *addr) {
  return hash_bytes(addr, family == 4 ? 4 : 16) ^ (uint32_t)family;
}

static source_t *limiter_find(limiter_t *l, int family, const uint8_t *addr, double now) {
  size_t n = family == 4 ? 4 : 16;
  size_t j = hash_source(family, addr) & (l->cap - 1);
  for (;; j = (j + 1) & (l->cap - 1)) {
    source_t *s = &l->slots[j];
    if (!s->used) break;
    if (s->family == family && memcmp(s->addr, addr, n) == 0) return s;
  }
  if (l->size >= l->max_sources) return &l->overflow;
  source_t *s = &l->slots[j];
  memset(s, 0, sizeof(*s));
  s->used = 1;
  s->family = (uint8_t)family;
  memcpy(s->addr, addr, n);
  s->tokens = l->per_source;
  s->last = now;
  l->size++;
  return s;
}

/* True when the packet may be answered. */
static int limiter_allow(limiter_t *l, int family, const uint8_t *addr, double now) {
  if (!l->counting && l->per_source <= 0) return 1;
  source_t *s = limiter_find(l, family, addr, now);
  if (l->counting) {
    if (s->count++ == 0) l->sources_in_window++;
    if (s->has_limit) {
      if (s->budget <= 0) return 0;
      s->budget--;
    }
    l->allowed_in_window++;
  }
  if (l->per_source > 0) {
    double rate = l->per_source;
    s->tokens = fmin(rate, s->tokens + (now - s->last) * rate);
    s->last = now;
    if (s->tokens < 1) return 0;
    s->tokens -= 1;
  }
  return 1;
}

/* Keeps what still matters (a limit, a bucket not yet full), so the table stays bounded. */
static void limiter_compact(limiter_t *l, double now) {
  source_t *old = l->slots;
  size_t cap = l->cap;
  source_t *fresh = calloc(cap, sizeof(source_t));
  if (!fresh) return;
  l->slots = fresh;
  l->size = 0;
  for (size_t i = 0; i < cap; i++) {
    source_t *s = &old[i];
    if (!s->used) continue;
    int bucket_busy = l->per_source > 0 && s->tokens + (now - s->last) * l->per_source < l->per_source;
    if (!s->has_limit && !bucket_busy) continue;
    size_t j = hash_source(s->family, s->addr) & (cap - 1);
    while (fresh[j].used) j = (j + 1) & (cap - 1);
    fresh[j] = *s;
    l->size++;
  }
  free(old);
}

/* One window ended; `busy` is the share of it the thread spent working. */
static void limiter_tick(limiter_t *l, double busy, double now) {
  int saturated = busy >= 0.9;
  if (!l->counting) {
    if (saturated) {
      l->counting = 1;
      l->calm = 0;
    }
  } else {
    uint32_t sources = l->sources_in_window;
    uint64_t allowed = l->allowed_in_window;
    l->calm = saturated ? 0 : l->calm + 1;
    int lift = l->calm >= 8;
    int64_t share = 0;
    int any_over = 0;
    if (!lift && saturated && sources >= 2) {
      share = (int64_t)ceil((double)allowed / sources);
      if (share < 25) share = 25;
      for (size_t i = 0; i < l->cap && !any_over; i++)
        if (l->slots[i].used && l->slots[i].count > share) any_over = 1;
      if (l->overflow.count > share) any_over = 1;
    }
    for (size_t i = 0; i <= l->cap; i++) {
      source_t *s = i < l->cap ? &l->slots[i] : &l->overflow;
      if (i < l->cap && !s->used) continue;
      if (lift) s->has_limit = 0;
      else if (any_over) {
        s->has_limit = s->count > share;
        s->limit = share;
      }
      s->budget = s->limit;
      s->count = 0;
    }
    if (lift) l->counting = 0;
    l->allowed_in_window = 0;
    l->sources_in_window = 0;
  }
  if (l->size * 2 > l->max_sources) limiter_compact(l, now);
}

static size_t next_pow2(size_t n) {
  size_t p = 64;
  while (p < n) p <<= 1;
  return p;
}
/* Big-endian helpers. */
static uint32_t get32(const uint8_t *p) { return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]; }
static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* ID, RD and CD from the query; its name bytes (0x20 case randomisation survives); its DO bit. */
static void patch(uint8_t *out, size_t out_len, const uint8_t *msg, size_t qend, int edns) {
  out[0] = msg[0];
  out[1] = msg[1];
  out[2] = (out[2] & 0xfe) | (msg[2] & 0x01);
  out[3] = (out[3] & 0xef) | (msg[3] & 0x10);
  memcpy(out + HEADER, msg + HEADER, qend - 4 - HEADER);
  if (edns) out[out_len - 4] = msg[qend + 7] & 0x80;
}

/*
 * Answers `msg` into `out` (capacity SEND_SIZE) when it is a plain query (one
 * question, no records but an OPT that ends the message, version 0, no label
 * over 63 octets or holding a dot) whose answer is in the table and fits the
 * client's UDP size. Returns the answer's length and sets *metric, or 0: the
 * full path answers it (a miss, anything unusual, an expired forwarded answer,
 * an answer that needs truncation).
 */
static size_t answer_query(table_t *t, const uint8_t *msg, size_t len, size_t max_udp, double now, uint8_t *out,
                           uint16_t *metric, int *from_cache) {
  if (len < 17 || len > 512 || (msg[2] & 0xfe) != 0 || (msg[3] & 0x0f) != 0) return 0;
  if (msg[4] != 0 || msg[5] != 1 || msg[6] != 0 || msg[7] != 0 || msg[8] != 0 || msg[9] != 0) return 0;
  if (msg[10] != 0 || msg[11] > 1) return 0;
  size_t p = HEADER;
  for (;;) {
    if (p >= len) return 0;
    uint8_t l = msg[p];
    if (l == 0) break;
    if (l > 63) return 0;
    if (p + l >= len) return 0;
    if (memchr(msg + p + 1, '.', l)) return 0; /* a dot inside a label: FORMERR on the full path */
    p += (size_t)l + 1;
  }
  size_t qend = p + 5;
  if (qend > len) return 0;
  int edns = 0, dnssec_ok = 0;
  size_t limit = 512;
  if (msg[11] == 1) {
    if (qend + 11 > len || msg[qend] != 0 || msg[qend + 1] != 0 || msg[qend + 2] != 41) return 0;
    if (msg[qend + 5] != 0 || msg[qend + 6] != 0) return 0;
    size_t rdlen = ((size_t)msg[qend + 9] << 8) | msg[qend + 10];
    if (qend + 11 + rdlen != len) return 0;
    for (size_t o = qend + 11; o < len;) {
      if (o + 4 > len) return 0;
      o += 4 + (((size_t)msg[o + 2] << 8) | msg[o + 3]);
      if (o > len) return 0;
    }
    edns = 1;
    dnssec_ok = (msg[qend + 7] & 0x80) != 0;
    size_t size = ((size_t)msg[qend + 3] << 8) | msg[qend + 4];
    limit = size < 512 ? 512 : size > max_udp ? max_udp : size;
  } else if (qend != len)
    return 0;

  size_t key_len = qend - HEADER;
  uint8_t key[MAX_KEY];
  if (key_len > sizeof(key)) return 0;
  memcpy(key, msg + HEADER, key_len);
  for (size_t i = 0; i + 4 < key_len; i++)
    if (key[i] >= 0x41 && key[i] <= 0x5a) key[i] |= 0x20;
  uint32_t h = hash_bytes(key, key_len);
  const entry_t *e = map_get(&t->main, key, key_len, h);
  if (!e) e = map_get(&t->dynamic, key, key_len, h);
  if (!e) {
    e = map_get(&t->forward, key, key_len, h);
    if (e && (now >= e->expires || (dnssec_ok && (e->flags & ENTRY_NO_DO)))) return 0;
  }
  if (e) {
    size_t out_len = edns ? e->edns_len : e->plain_len;
    if (out_len > limit || out_len > SEND_SIZE || e->question_len != key_len) return 0;
    memcpy(out, edns ? e->edns : e->plain, out_len);
    patch(out, out_len, msg, qend, edns);
    if (e->flags & ENTRY_FORWARD) {
      double age = now - e->stored;
      uint32_t elapsed = age <= 0 ? 0 : age >= 4294967295.0 ? 0xffffffffu : (uint32_t)age;
      for (size_t i = 0; elapsed > 0 && i < e->ttl_count; i++) {
        size_t o = ((size_t)e->ttl_offsets[2 * i] << 8) | e->ttl_offsets[2 * i + 1];
        if (o + 4 > out_len) continue;
        uint32_t ttl = get32(out + o);
        put32(out + o, ttl > elapsed ? ttl - elapsed : 0);
      }
    }
    *metric = e->metric;
    *from_cache = (e->flags & ENTRY_FORWARD) != 0;
    return out_len;
  }

  /* A blocklist name: A 0.0.0.0 / AAAA ::, synthesised (the name compressed to the question). */
  uint16_t qtype = (uint16_t)((key[key_len - 4] << 8) | key[key_len - 3]);
  uint16_t qclass = (uint16_t)((key[key_len - 2] << 8) | key[key_len - 1]);
  if (qclass != 1 || (qtype != 1 && qtype != 28)) return 0;
  int bits = sinks_get(&t->sinks, key, key_len - 4);
  if (!(bits & (qtype == 1 ? 1 : 2))) return 0;
  size_t rdlen = qtype == 1 ? 4 : 16;
  size_t out_len = qend + 12 + rdlen + (edns ? 11 : 0);
  if (out_len > limit || out_len > SEND_SIZE) return 0;
  memset(out, 0, out_len);
  out[0] = msg[0];
  out[1] = msg[1];
  out[2] = 0x84 | (msg[2] & 0x01); /* QR AA, RD from the query */
  out[3] = (t->sinks.ra ? 0x80 : 0) | (msg[3] & 0x10);
  out[5] = 1;
  out[7] = 1;
  out[11] = (uint8_t)edns;
  memcpy(out + HEADER, msg + HEADER, key_len);
  uint8_t *rr = out + qend;
  rr[0] = 0xc0;
  rr[1] = HEADER;
  rr[3] = (uint8_t)qtype;
  rr[5] = 1;
  put32(rr + 6, t->sinks.ttl);
  rr[11] = (uint8_t)rdlen;
  if (edns) {
    uint8_t *opt = rr + 12 + rdlen;
    opt[2] = 41;
    opt[3] = (uint8_t)(max_udp >> 8);
    opt[4] = (uint8_t)max_udp;
    opt[7] = dnssec_ok ? 0x80 : 0;
  }
  *metric = qtype == 1 ? t->sinks.metric_a : t->sinks.metric_aaaa;
  *from_cache = 0;
  return out_len;
}

#endif
