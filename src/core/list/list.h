/*
 * list.h -- the one intrusive doubly linked list (circular, with a head
 * node), in the style of libuv's queue.h. An element embeds an lgw_link_t
 * and is found back from it with LGW_CONTAINER_OF:
 *
 *   struct job { int id; lgw_link_t link; };
 *   lgw_link_t jobs;  lgw_list_init(&jobs);
 *   lgw_list_push_back(&jobs, &j->link);
 *   LGW_LIST_FOREACH(l, &jobs) {
 *     struct job *j = LGW_CONTAINER_OF(l, struct job, link); ...
 *   }
 *
 * Removing the current element while iterating needs the _SAFE form.
 * Header only, depends on nothing but <stddef.h>.
 */
#ifndef LGW_LIST_H
#define LGW_LIST_H

#include <stddef.h>

typedef struct lgw_link {
  struct lgw_link *next;
  struct lgw_link *prev;
} lgw_link_t;

#define LGW_CONTAINER_OF(ptr, type, field) \
  ((type *)(void *)((char *)(ptr) - offsetof(type, field)))

/* A head (or a detached element: lgw_list_linked() is then 0). */
static inline void lgw_list_init(lgw_link_t *h) { h->next = h->prev = h; }

static inline int lgw_list_empty(const lgw_link_t *h) { return h->next == h; }

/* For an element: is it in a list? (after lgw_list_init or _remove: no) */
static inline int lgw_list_linked(const lgw_link_t *e) { return e->next != e; }

static inline lgw_link_t *lgw_list_first(const lgw_link_t *h) {
  return h->next == h ? NULL : h->next;
}

static inline lgw_link_t *lgw_list_last(const lgw_link_t *h) {
  return h->prev == h ? NULL : h->prev;
}

static inline void lgw_list_insert_after(lgw_link_t *pos, lgw_link_t *e) {
  e->prev = pos;
  e->next = pos->next;
  pos->next->prev = e;
  pos->next = e;
}

static inline void lgw_list_push_back(lgw_link_t *h, lgw_link_t *e) {
  lgw_list_insert_after(h->prev, e);
}

static inline void lgw_list_push_front(lgw_link_t *h, lgw_link_t *e) {
  lgw_list_insert_after(h, e);
}

/* Unlinks e and leaves it detached (safe to remove twice). */
static inline void lgw_list_remove(lgw_link_t *e) {
  e->prev->next = e->next;
  e->next->prev = e->prev;
  e->next = e->prev = e;
}

/* Unlinks and returns the first element, or NULL when empty. */
static inline lgw_link_t *lgw_list_pop_front(lgw_link_t *h) {
  lgw_link_t *e = lgw_list_first(h);
  if (e) lgw_list_remove(e);
  return e;
}

#define LGW_LIST_FOREACH(l, h) \
  for (lgw_link_t *l = (h)->next; l != (h); l = l->next)

/* n holds the next element, so l may be removed (or freed) in the body. */
#define LGW_LIST_FOREACH_SAFE(l, n, h) \
  for (lgw_link_t *l = (h)->next, *n = l->next; l != (h); \
       l = n, n = l->next)

#endif /* LGW_LIST_H */
