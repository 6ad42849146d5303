/*
 * test_list.c -- the intrusive list of src/core/list/list.h: order of
 * push_back/push_front, removal during iteration, pop_front on an empty
 * list, and that a removed element is detached (removing it again is a
 * no-op).
 */
#include "list.h"
#include "test.h"

typedef struct item {
  int id;
  lgw_link_t link;
} item_t;

static int ids(lgw_link_t *h, int *out, int max) {
  int n = 0;
  LGW_LIST_FOREACH(l, h) {
    if (n < max) out[n] = LGW_CONTAINER_OF(l, item_t, link)->id;
    n++;
  }
  return n;
}

TEST(order_of_pushes) {
  item_t it[4] = {{1, {0, 0}}, {2, {0, 0}}, {3, {0, 0}}, {4, {0, 0}}};
  lgw_link_t h;
  int got[4];
  lgw_list_init(&h);
  ASSERT(lgw_list_empty(&h));
  ASSERT(lgw_list_first(&h) == NULL);
  lgw_list_push_back(&h, &it[1].link);
  lgw_list_push_back(&h, &it[2].link);
  lgw_list_push_front(&h, &it[0].link);
  lgw_list_push_back(&h, &it[3].link);
  ASSERT_EQ(ids(&h, got, 4), 4);
  ASSERT_EQ(got[0], 1);
  ASSERT_EQ(got[1], 2);
  ASSERT_EQ(got[2], 3);
  ASSERT_EQ(got[3], 4);
  ASSERT(lgw_list_last(&h) == &it[3].link);
}

TEST(remove_while_iterating) {
  item_t it[5];
  lgw_link_t h;
  int got[5], i;
  lgw_list_init(&h);
  for (i = 0; i < 5; i++) {
    it[i].id = i;
    lgw_list_push_back(&h, &it[i].link);
  }
  LGW_LIST_FOREACH_SAFE(l, n, &h) {
    if (LGW_CONTAINER_OF(l, item_t, link)->id % 2 == 0) lgw_list_remove(l);
  }
  ASSERT_EQ(ids(&h, got, 5), 2);
  ASSERT_EQ(got[0], 1);
  ASSERT_EQ(got[1], 3);
  ASSERT(!lgw_list_linked(&it[0].link));
  lgw_list_remove(&it[0].link); /* detached: nothing happens */
  ASSERT_EQ(ids(&h, got, 5), 2);
  ASSERT(lgw_list_linked(&it[1].link));
}

TEST(pop_front) {
  item_t a = {7, {0, 0}};
  lgw_link_t h;
  lgw_list_init(&h);
  ASSERT(lgw_list_pop_front(&h) == NULL);
  lgw_list_push_back(&h, &a.link);
  ASSERT(lgw_list_pop_front(&h) == &a.link);
  ASSERT(lgw_list_empty(&h));
  ASSERT(!lgw_list_linked(&a.link));
}

int main(void) {
  RUN(order_of_pushes);
  RUN(remove_while_iterating);
  RUN(pop_front);
  return TEST_SUMMARY();
}
