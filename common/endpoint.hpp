#pragma once
// Conversions between config addresses, our ip_address and Asio endpoints.

#include "common/cidr.hpp"
#include "common/config.hpp"
#include "common/net.hpp"

namespace anteroom {

tcp::endpoint to_endpoint(const listen_address& a);
ip_address to_ip(const net::ip::address& a);
listen_address to_listen_address(const tcp::endpoint& ep);

}  // namespace anteroom
