/*
 * queue.h -- the distributed work queue (public API in llmgateway.h:
 * lgw_queue_*) on Redis Streams. Keys, under the queue's prefix:
 *
 *   <prefix>queue:<name>            the stream; group "workers"; entries
 *                                   {id, payload}, deleted once finished
 *   <prefix>queue:<name>:results    hash job id -> result
 *   <prefix>queue:<name>:errors     hash job id -> final error
 *   <prefix>queue:<name>:dead       dead-letter stream {id, error,
 *                                   payload, deliveries}
 *   <prefix>queue:<name>:stats      hash {done, failed, duplicates}
 *   <prefix>queue:<name>:rate:<s>   outcomes in second s (kept 2 min)
 */
#ifndef LGW_QUEUE_H
#define LGW_QUEUE_H

#include "llmgateway.h"

/* A new job id: 32 random lower-case hex digits. 0 or LGW_EIO. */
int lgw__queue_new_id(char out[33]);

/* Outcomes written by lgw_queue_finish whose write has not been
 * confirmed yet (a job that has no id field in its stream entry is
 * known by the entry's id). fn runs each time that number falls to 0;
 * closing the queue before then may lose them. */
size_t lgw__queue_writes(const lgw_queue_t *q);
void lgw__queue_on_drained(lgw_queue_t *q,
                           void (*fn)(lgw_queue_t *q, void *ud), void *ud);

#endif
