#pragma once
// Reads a listener's `tls:` block and a cluster's `upstream_tls:` block (docs/config.md "TLS",
// "upstream_tls"). Files are named, not opened: the
// certificates are loaded when the TLS contexts are built (tls/server_context.h), which reports
// a bad file at the place the configuration names it.
//
// Threading: start-up and reload, on the control side.

#include "config/config.h"
#include "config/yaml_node.h"

namespace ballast::config {

// A tcp listener's ALPN is empty unless `alpn` is written: it carries any protocol.
TlsListenerConfig read_listener_tls(const Node& node, ListenerMode mode);

UpstreamTlsConfig read_upstream_tls(const Node& node);

}  // namespace ballast::config
