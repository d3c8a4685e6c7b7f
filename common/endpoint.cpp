#include "common/endpoint.hpp"

#include <cstring>

namespace anteroom {

tcp::endpoint to_endpoint(const listen_address& a) {
    beast::error_code ec;
    auto addr = net::ip::make_address(a.host, ec);
    return {addr, a.port};
}

ip_address to_ip(const net::ip::address& a) {
    ip_address r;
    if (a.is_v4()) {
        r.bytes[10] = 0xff;
        r.bytes[11] = 0xff;
        const auto b = a.to_v4().to_bytes();
        std::memcpy(r.bytes.data() + 12, b.data(), 4);
    } else {
        const auto v6 = a.to_v6();
        if (v6.is_v4_mapped()) {
            return to_ip(net::ip::make_address_v4(net::ip::v4_mapped, v6));
        }
        const auto b = v6.to_bytes();
        std::memcpy(r.bytes.data(), b.data(), 16);
    }
    return r;
}

listen_address to_listen_address(const tcp::endpoint& ep) {
    return {ep.address().to_string(), ep.port()};
}

}  // namespace anteroom
