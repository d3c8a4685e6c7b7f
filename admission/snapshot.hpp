#pragma once
// The embedded store's snapshot: `<state_dir>/admission.snapshot`, one file for all rooms.
//
//   "ANTRSNAP"  u32 version  i64 written_at (unix ms)  u32 room count
//   per room:   u64 length, then the room record (room_codec in snapshot.cpp)
//   32 bytes:   SHA-256 of everything before it
//
// Integers are little-endian. Written to a temp file, fsynced, renamed over the old one, and the
// directory fsynced, so a crash leaves either the old or the new file, never a torn one.
//
// Sequence lease: a room record stores `issued + reserve` as well; after a restart the numbers
// in between become ghost places, so a ticket handed out after the last snapshot never shares
// its number with a new one (the reserve covers a few snapshot intervals of issuing).

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "admission/room_controller.hpp"

namespace anteroom::admission {

// 2: a place's seen_state carries the unconfirmed bit (bit 31). Version 1 (no such bit) is
// still read; a binary that only knows version 1 refuses a version 2 snapshot by its number.
inline constexpr std::uint32_t snapshot_version = 2;

class byte_writer {
public:
    void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void u32(std::uint32_t v);
    void u64(std::uint64_t v);
    void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
    void bytes(std::span<const std::uint8_t> v) { out_.append(reinterpret_cast<const char*>(v.data()), v.size()); }
    void str(std::string_view v);
    void raw(const void* data, std::size_t size) { out_.append(static_cast<const char*>(data), size); }
    void opt_i64(const std::optional<std::int64_t>& v);
    std::string& buffer() { return out_; }

private:
    template <class T>
    void le(T v);
    std::string out_;
};

// Reads fields in order; after the first failure every read fails and ok() is false.
class byte_reader {
public:
    explicit byte_reader(std::string_view in) : in_(in) {}
    bool u8(std::uint8_t& v);
    bool u32(std::uint32_t& v);
    bool u64(std::uint64_t& v);
    bool i64(std::int64_t& v);
    bool bytes(std::span<std::uint8_t> v);
    bool str(std::string& v, std::size_t max_len);
    bool opt_i64(std::optional<std::int64_t>& v);
    // A count of records of `record_size` bytes each that must fit in what is left.
    bool count(std::uint64_t& n, std::size_t record_size);
    bool ok() const { return ok_; }
    bool at_end() const { return in_.empty(); }

private:
    template <class T>
    bool le(T& v);
    bool take(std::size_t n, const char*& p);
    std::string_view in_;
    bool ok_ = true;
};

// One room's record. encode_room() also starts a new sequence lease in the room.
std::string encode_room(room_controller& room);
// nullptr + err when the record is malformed. The room comes back as it was, plus ghost
// places for its lease; it needs resume(now) before use (the store does that in configure()).
std::unique_ptr<room_controller> decode_room(std::string_view record, std::string& err);

std::string frame_snapshot(const std::vector<std::string>& room_records, unix_ms written_at);
struct parsed_snapshot {
    unix_ms written_at = 0;
    std::vector<std::string_view> rooms;  // views into the parsed text
};
std::optional<parsed_snapshot> parse_snapshot(std::string_view file, std::string& err);

// temp → fsync → rename → fsync(dir). False + err (with the path and errno text) on failure.
// With `keep_previous`, the file being replaced is first renamed to that name, so the last
// good version survives a new one that turns out damaged (a crash between the two renames
// leaves only `keep_previous`, which the reader then takes).
bool write_file_durably(const std::string& path, std::string_view data, std::string& err,
                        const std::string& keep_previous = {});
// The whole file; false + err on failure; a missing file is not an error (exists = false).
bool read_whole_file(const std::string& path, std::string& out, bool& exists, std::string& err);

}  // namespace anteroom::admission
