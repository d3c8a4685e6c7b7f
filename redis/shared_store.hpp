#pragma once
// The shared queue store ([state] backend = "redis"): several anteroom nodes serve one queue
// per room, its state in Redis (docs/shared-state.md). It implements admission::queue_store, so
// the admission filter does not know which store it talks to.
//
// The request path never waits for Redis. Every room has a local mirror (serving position,
// issued sequence, active count, admitted-but-unclaimed places, live settings, the room's
// identity) refreshed by a sync every `sync_interval` on the store's own thread, which also
// flushes what requests recorded since the last sync (places seen, claims, pass touches and
// ends, bypass passes) as one pipeline per room. New tickets take numbers from a block the node
// reserved ahead (sized to the arrival rate, at most `block_max_age` old), so arrival order is
// exact on one node and exact across nodes for visitors more than `block_max_age` apart. One
// node per room holds a lease and runs the token bucket in Redis (`advance`); if it dies,
// another takes over within lease_ttl + lease_ttl/3.
//
// Fail mode "closed": when Redis has not answered a sync for `stale_after`, new visitors get
// the room's "please wait" answer (issue_ticket returns nothing: 503 with Retry-After), waiting
// visitors keep their place (nothing advances; their polls are kept and flushed later), and
// admitted passes keep working (they are signed; touches are flushed when Redis is back).
//
// Fail mode "local": the node goes on alone from its last view. Newcomers get numbers above all
// it knows, ≡ its index (mod N) among the N nodes of the last view, so no two nodes give the
// same; it advances the serving position at the room's rate over the places it knows to be live
// and admits at most 1/N of the rate and of the places free at the outage. Passes it gives carry
// the place's pass id with the low bit flipped, so every node takes them into Redis (touch with
// revive). When Redis is back its numbers raise the room's sequence, its admitted places are
// marked not live, its admissions are counted, and the shared position rules again.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "admission/queue_store.hpp"
#include "redis/client.hpp"

namespace anteroom::redis {

struct shared_store_options {
    options connection;                 // address, password, timeouts
    std::string prefix = "anteroom";    // key prefix: <prefix>:{<room>}:...
    std::string node_id;                // names this node in the lease ("" = host:pid)
    std::chrono::milliseconds lease_ttl{3000};
    std::chrono::milliseconds sync_interval{100};
    std::chrono::milliseconds settings_interval{250};
    std::chrono::milliseconds stale_after{1000};    // no good sync this long: fail mode
    std::chrono::milliseconds block_max_age{1000};  // a reserved number block is not used older
    std::chrono::milliseconds grace{3000};          // unseen places younger than this are not skipped
    bool fail_local = false;                        // fail mode "local" (else "closed")
    std::function<admission::unix_ms()> clock;      // default: the system clock
};

// Starts the store's thread and connects (in the background: until the first sync the rooms
// answer as in fail mode). The thread stops when the store is destroyed.
std::unique_ptr<admission::queue_store> make_shared_store(shared_store_options o);

}  // namespace anteroom::redis
