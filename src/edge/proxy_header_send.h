#pragma once
// Sending the PROXY protocol header that a cluster with `send_proxy_protocol` puts first on each
// connection to a server (HAProxy's send-proxy / send-proxy-v2), before anything else, TLS
// included: for a client's connection, and for a health check.
//
// Sent once the connect has succeeded: the socket's send buffer is then empty, so the header (at
// most 108 bytes) goes in one send(). Costs a getsockname() per connection for the destination.

#include "config/config.h"
#include "core/socket.h"

namespace ballast::edge {

// Names `client` as the source and the address its connection (`client_fd`) reached on ballast
// as the destination. False (errno set) when it could not all be sent.
bool send_proxy_header(int server_fd, config::ProxyProtocolVersion version,
                       const core::SocketAddress& client, int client_fd) noexcept;

// For a connection of ballast's own, a health check: names nobody (v1 UNKNOWN, v2 LOCAL), so a
// server that requires the header takes the check as its proxy's own.
bool send_local_proxy_header(int server_fd, config::ProxyProtocolVersion version) noexcept;

}  // namespace ballast::edge
