#pragma once
// The request target as ballast routes on it and forwards it (RFC 9112 §3.2, RFC 3986 §6).
//
// A proxy that routes on one reading of the target and forwards another lets a client reach
// what a route was meant to keep away: `/api/../admin` matching the prefix `/api`, or
// `GET http://internal/secret` with `Host: public.example` routed by Host but read by the server
// by its target. So the target is rewritten once, before routing, and what is routed on is
// exactly what is forwarded:
//   - absolute-form (`http://authority/path?q`) becomes origin-form (`/path?q`) and its
//     authority replaces Host (RFC 9112 §3.2.2: the target's authority wins over the field);
//   - the path is normalised: percent-encoded unreserved characters decoded (`%7E` -> `~`,
//     `%2e` -> `.`), other percent-encodings kept with upper-case hex (`%2f` -> `%2F`: an
//     encoded slash stays data, as in Envoy's default), repeated slashes merged, and dot-segments
//     removed (RFC 3986 §5.2.4; `..` never climbs above the root);
//   - the query is left as sent.
// Refused with 400: a fragment (`#`), a malformed or NUL percent-encoding, userinfo in an
// authority, a scheme other than http or https, authority-form outside CONNECT (which the
// session answers with 405 before this runs), and `*` outside OPTIONS.
//
// Threading: a pure function. Cost: one pass over the target; rewrites in place (a normalised
// target is never longer than the one received), so it needs no memory of its own.

#include <span>

#include "http/head.h"

namespace ballast::http {

struct TargetError {
  uint16_t status = 0;  // 0 = none
  std::string_view reason;
};

// Normalises request.target, whose bytes are `target` (the same bytes, writable), and updates
// request.target and, for absolute-form, request.host and request.host_from_target.
TargetError normalize_request_target(std::span<char> target, RequestHead& request) noexcept;

// The path normalisation alone, in place; returns the new length, or 0 for a malformed or NUL
// percent-encoding. `path` starts with '/' and holds no query.
size_t normalize_path(std::span<char> path) noexcept;

}  // namespace ballast::http
