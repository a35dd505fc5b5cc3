#pragma once
// The live dashboard served at GET / on the admin listener: one self-contained HTML page (inline
// CSS and JavaScript, no external resource of any kind) that polls /status and /status/history
// once a second and draws, per cluster, every server's state, request rate, p50/p99 latency,
// active connections, health and breaker state, with sparklines over the last five minutes.
//
// A server kept out by health checks, ejection or its breaker is red: its row has the class
// `down` and data-state="down" (data-state is always the server's `state` from /status).
//
// Threading: a constant. Cost: none; the page is a string literal in the binary.

#include <string_view>

namespace ballast::admin {

std::string_view dashboard_html() noexcept;

}  // namespace ballast::admin
