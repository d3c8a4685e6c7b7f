#pragma once
// Precompiled for every target that links anteroom_net: the heavy Asio/Beast declarations.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
