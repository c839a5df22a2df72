/*
 * Throws random and mutated packets at the native answerer's packet logic
 * (dns_core.h) and random sources at its limiter. Built and run under
 * AddressSanitizer and UndefinedBehaviorSanitizer by
 * test/integration/dns/native-fuzz.test.ts: any out-of-bounds read or write,
 * overflow or leak ends it with a report and a non-zero exit.
 *
 *   fuzz ITERATIONS SEED
 */
#include <stdio.h>

#include "dns_core.h"

static uint32_t state;
static uint32_t rnd(void) {
  state = state * 1103515245u + 12345u;
  return state >> 8;
}

/* An answer entry for `question` (wire name + type + class): header, question, one A record, OPT. */
static void add_answer(map_t *m, const uint8_t *question, size_t qlen) {
  size_t plain_len = HEADER + qlen + 16, edns_len = plain_len + 11;
  uint8_t *block = calloc(1, qlen + plain_len + edns_len);
  entry_t e = {0};
  e.key = block;
  e.plain = block + qlen;
  e.edns = e.plain + plain_len;
  memcpy(e.key, question, qlen);
  for (int copy = 0; copy < 2; copy++) {
    uint8_t *out = copy ? e.edns : e.plain;
    out[2] = 0x84; /* QR AA */
    out[5] = 1;
    out[7] = 1;
    out[11] = copy;
    memcpy(out + HEADER, question, qlen);
    uint8_t *rr = out + HEADER + qlen;
    const uint8_t a[16] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 5};
    memcpy(rr, a, sizeof(a));
    if (copy) {
      const uint8_t opt[11] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
      memcpy(rr + 16, opt, sizeof(opt));
    }
  }
  e.key_len = (uint16_t)qlen;
  e.plain_len = (uint16_t)plain_len;
  e.edns_len = (uint16_t)edns_len;
  e.question_len = (uint16_t)qlen;
  e.metric = (uint16_t)(rnd() % METRIC_COUNT);
  e.hash = hash_bytes(question, qlen);
  if (map_put(m, &e) != 0) free(block);
}

int main(int argc, char **argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 1000000;
  state = argc > 2 ? (uint32_t)atol(argv[2]) : 1;

  table_t table = {0};
  pthread_mutex_init(&table.lock, NULL);
  table.refs = 1;
  const uint8_t nas[] = {3, 'n', 'a', 's', 4, 'h', 'o', 'm', 'e', 3, 'l', 'a', 'n', 0, 0, 1, 0, 1};
  add_answer(&table.main, nas, sizeof(nas));
  /* Many more names, so the maps grow and collide. */
  for (int i = 0; i < 3000; i++) {
    uint8_t q[32];
    int n = snprintf((char *)q + 1, sizeof(q) - 1, "h%d", i);
    q[0] = (uint8_t)n;
    memcpy(q + 1 + n, "\x03lan\x00\x00\x01\x00\x01", 9);
    add_answer(i % 2 ? &table.dynamic : &table.main, q, (size_t)n + 10);
  }

  /* Forwarded answers (some expired, some DO-less) with TTL offsets, one deleted again. */
  for (int i = 0; i < 200; i++) {
    uint8_t q[32];
    int n = snprintf((char *)q + 1, sizeof(q) - 1, "f%d", i);
    q[0] = (uint8_t)n;
    memcpy(q + 1 + n, "\x03net\x00\x00\x01\x00\x01", 9);
    map_t tmp = {0};
    add_answer(&tmp, q, (size_t)n + 10);
    for (size_t j = 0; j < tmp.cap; j++) {
      if (!tmp.slots[j].key) continue;
      entry_t e = tmp.slots[j];
      /* Re-allocate with two TTL offsets after the answers (one in range, one past the end). */
      size_t base = e.key_len + e.plain_len + e.edns_len;
      uint8_t *block = malloc(base + 4);
      memcpy(block, e.key, base);
      size_t ttl_at = HEADER + e.question_len + 6;
      block[base] = (uint8_t)(ttl_at >> 8);
      block[base + 1] = (uint8_t)ttl_at;
      block[base + 2] = 0xff;
      block[base + 3] = 0xf0;
      free(e.key);
      e.key = block;
      e.plain = block + e.key_len;
      e.edns = e.plain + e.plain_len;
      e.ttl_offsets = block + base;
      e.ttl_count = 2;
      e.flags = ENTRY_FORWARD | (i % 3 ? ENTRY_NO_DO : 0);
      e.stored = 0;
      e.expires = i % 2 ? 1e9 : 0.5;
      if (map_put(&table.forward, &e) != 0) free(block);
      tmp.slots[j].key = NULL;
    }
    map_free(&tmp);
    if (i % 7 == 0) map_del(&table.forward, q, (size_t)n + 10, hash_bytes(q, (size_t)n + 10));
  }
  /* Blocklist names. */
  {
    uint8_t buf[64 * 40];
    size_t len = 0;
    for (int i = 0; i < 64; i++) {
      int n = snprintf((char *)buf + len + 3, 20, "ad%d", i);
      buf[len] = (uint8_t)(1 + i % 3);
      buf[len + 1] = (uint8_t)(n + 6);
      buf[len + 2] = (uint8_t)n;
      memcpy(buf + len + 3 + n, "\x03net\x00", 5);
      len += 2 + (size_t)n + 6;
    }
    if (sinks_build(&table.sinks, buf, len, 1) != 0) return 1;
    table.sinks.ttl = 60;
  }

  /* dig's query for nas.home.lan with EDNS and a cookie option. */
  uint8_t valid[HEADER + sizeof(nas) + 11 + 12] = {0x42, 0x42, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1};
  memcpy(valid + HEADER, nas, sizeof(nas));
  const uint8_t opt[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 12, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
  memcpy(valid + HEADER + sizeof(nas), opt, sizeof(opt));

  limiter_t limiter = {0};
  limiter.per_source = rnd() % 2 ? 50 : 0;
  limiter.max_sources = 64;
  limiter.cap = next_pow2(limiter.max_sources * 2);
  limiter.slots = calloc(limiter.cap, sizeof(source_t));
  limiter.overflow.used = 1;

  long hits = 0, allowed = 0;
  uint8_t *packet = malloc(700);
  uint8_t out[SEND_SIZE];
  for (long i = 0; i < iterations; i++) {
    size_t len;
    switch (rnd() % 4) {
      case 0: /* random bytes of any length up to past the hot path's limit */
        len = rnd() % 700;
        for (size_t j = 0; j < len; j++) packet[j] = (uint8_t)rnd();
        break;
      case 1: /* the valid query, cut short */
        len = rnd() % (sizeof(valid) + 1);
        memcpy(packet, valid, len);
        break;
      default: /* the valid query (with or without its OPT), or one for a forwarded or blocklist name, a few bytes changed */
        len = rnd() % 2 ? sizeof(valid) : HEADER + sizeof(nas);
        memcpy(packet, valid, len);
        if (len == HEADER + sizeof(nas)) packet[11] = 0;
        if (rnd() % 2) {
          /* Same length as "nas.home.lan": "ad5.xxxx.net"-shaped names would not be in the table, so rewrite in place. */
          static const uint8_t names[2][14] = {{3, 'f', '1', '2', 3, 'n', 'e', 't', 0, 0, 1, 0, 1, 0},
                                               {3, 'a', 'd', '5', 3, 'n', 'e', 't', 0, 0, 28, 0, 1, 0}};
          const uint8_t *q = names[rnd() % 2];
          size_t qlen = 13;
          size_t tail = len - HEADER - sizeof(nas);
          memmove(packet + HEADER + qlen, packet + HEADER + sizeof(nas), tail);
          memcpy(packet + HEADER, q, qlen);
          len = HEADER + qlen + tail;
        }
        for (int m = rnd() % 4; m > 0; m--) packet[rnd() % len] = (uint8_t)rnd();
    }
    /* An exact-size copy, so the sanitizer catches a read one byte past the datagram. */
    uint8_t *msg = malloc(len ? len : 1);
    memcpy(msg, packet, len);
    uint16_t metric = 0;
    int from_cache = 0;
    size_t n = answer_query(&table, msg, len, 512 + rnd() % 3585, (double)(rnd() % 4), out, &metric, &from_cache);
    if (n) {
      if (n > SEND_SIZE || n < HEADER || metric >= METRIC_COUNT) {
        fprintf(stderr, "fuzz: bad hit at iteration %ld (len %zu, answer %zu)\n", i, len, n);
        return 1;
      }
      if (out[0] != msg[0] || out[1] != msg[1]) return 1;
      hits++;
    }
    free(msg);

    uint8_t address[16] = {0};
    for (int k = 0; k < 16; k++) address[k] = (uint8_t)(rnd() % 4);
    allowed += limiter_allow(&limiter, rnd() % 2 ? 4 : 6, address, (double)i / 10000.0);
    if (i % 5000 == 0) limiter_tick(&limiter, (double)(rnd() % 101) / 100.0, (double)i / 10000.0);
  }
  printf("fuzz: %ld packets, %ld answered from the table, %ld allowed by the limiter, %zu sources kept\n", iterations,
         hits, allowed, limiter.size);
  free(packet);
  free(limiter.slots);
  map_free(&table.main);
  map_free(&table.dynamic);
  map_free(&table.forward);
  sinks_free(&table.sinks);
  pthread_mutex_destroy(&table.lock);
  return hits > 0 ? 0 : 1;
}
