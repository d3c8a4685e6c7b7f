#include "bot_detect/key_table.hpp"

#include <cstdlib>
#include <cstring>
#include <new>

namespace anteroom::bot_detect {

void key_table::free_deleter::operator()(key_entry* p) const { std::free(p); }

key_table::key_table(std::size_t capacity) {
    const std::size_t sets_wanted = (capacity + shard_count * ways - 1) / (shard_count * ways);
    while (sets_per_shard_ < sets_wanted) {
        sets_per_shard_ <<= 1;
    }
    // calloc: large zeroed blocks come straight from mmap, so untouched sets cost no memory.
    auto* raw = static_cast<key_entry*>(std::calloc(this->capacity(), sizeof(key_entry)));
    if (raw == nullptr) {
        throw std::bad_alloc();
    }
    storage_.reset(raw);
    shards_ = std::make_unique<shard[]>(shard_count);
    for (std::size_t i = 0; i < shard_count; ++i) {
        shards_[i].sets = raw + i * sets_per_shard_ * ways;
    }
}

key_table::~key_table() = default;

key_entry& key_table::find_or_claim(shard& sh, std::uint64_t key, std::uint32_t now_s, bool& fresh) {
    key_entry* set = sh.sets + (key & (sets_per_shard_ - 1)) * ways;
    key_entry* victim = nullptr;
    std::uint32_t oldest_age = 0;
    for (std::size_t i = 0; i < ways; ++i) {
        key_entry& e = set[i];
        if (e.key == key) {
            fresh = false;
            return e;
        }
        if (e.key == 0) {
            if (victim == nullptr || victim->key != 0) {
                victim = &e;
                oldest_age = ~0u;
            }
            continue;
        }
        const std::uint32_t age = now_s - e.last_s;
        if (victim == nullptr || (victim->key != 0 && age >= oldest_age)) {
            victim = &e;
            oldest_age = age;
        }
    }
    if (victim->key != 0) {
        ++sh.evictions;
    }
    std::memset(static_cast<void*>(victim), 0, sizeof(key_entry));
    victim->key = key;
    victim->last_s = now_s;
    fresh = true;
    return *victim;
}

std::uint64_t key_table::evictions() const {
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < shard_count; ++i) {
        std::lock_guard lock(shards_[i].mu);
        n += shards_[i].evictions;
    }
    return n;
}

std::size_t key_table::size() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < shard_count; ++i) {
        std::lock_guard lock(shards_[i].mu);
        const key_entry* set = shards_[i].sets;
        for (std::size_t k = 0; k < sets_per_shard_ * ways; ++k) {
            n += set[k].key != 0 ? 1 : 0;
        }
    }
    return n;
}

}  // namespace anteroom::bot_detect
