#include "config/address_book.h"

#include "config/scalars.h"

namespace ballast::config {

void AddressBook::claim(const Endpoint& endpoint, const std::string& owner, const Node& at) {
  std::vector<std::pair<Endpoint, std::string>>& claims = by_port_[endpoint.port];
  for (const auto& [taken, taken_by] : claims) {
    if (endpoints_overlap(endpoint, taken)) {
      const std::string mine = format_endpoint(endpoint) + (at.is_null() ? " (the default)" : "");
      const std::string theirs = format_endpoint(taken);
      at.fail(mine + (theirs == format_endpoint(endpoint) ? " is" : " overlaps " + theirs + ",") +
              " already taken by " + taken_by);
    }
  }
  claims.emplace_back(endpoint, owner);
}

}  // namespace ballast::config
