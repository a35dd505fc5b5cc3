#include "http/error_response.h"

#include "http/chars.h"
#include "http/span_writer.h"

namespace ballast::http {

std::string_view reason_phrase(uint16_t status) noexcept {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 304:
      return "Not Modified";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";
  }
}

size_t write_error_response(uint16_t status, std::string_view message,
                            std::span<const Header> extra_fields, std::span<char> out) noexcept {
  const std::string_view phrase = reason_phrase(status);
  const std::string_view body = message.empty() ? phrase : message;
  SpanWriter writer(out);
  writer.put("HTTP/1.1 ");
  writer.put_decimal(status);
  writer.put(" ");
  writer.put(phrase);
  writer.put("\r\nContent-Type: text/plain\r\nContent-Length: ");
  writer.put_decimal(body.size() + 1);
  writer.put("\r\nConnection: close\r\n");
  for (const Header& field : extra_fields) {
    writer.put_field(field.name, field.value);
  }
  writer.put("\r\n");
  writer.put(body);
  writer.put("\n");
  return writer.finish();
}

size_t write_empty_response(uint16_t status, std::span<const Header> extra_fields,
                            std::span<char> out) noexcept {
  SpanWriter writer(out);
  writer.put("HTTP/1.1 ");
  writer.put_decimal(status);
  writer.put(" ");
  writer.put(reason_phrase(status));
  writer.put("\r\nContent-Length: 0\r\nConnection: close\r\n");
  for (const Header& field : extra_fields) {
    writer.put_field(field.name, field.value);
  }
  writer.put("\r\n");
  return writer.finish();
}

namespace {

bool carries_credentials(std::string_view name) noexcept {
  return chars::equals_ignore_case(name, "Authorization") ||
         chars::equals_ignore_case(name, "Proxy-Authorization") ||
         chars::equals_ignore_case(name, "Cookie");
}

// The reflected message: written twice, once to a counting writer for its length.
template <typename Writer>
void put_reflected_request(const RequestHead& request, Writer& writer) noexcept {
  writer.put(request.method);
  writer.put(" ");
  writer.put(request.target);
  writer.put(request.version_minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  for (const Header& field : request.headers.all()) {
    if (!carries_credentials(field.name)) {
      writer.put_field(field.name, field.value);
    }
  }
  writer.put("\r\n");
}

struct CountingWriter {
  size_t bytes = 0;
  void put(std::string_view text) noexcept { bytes += text.size(); }
  void put_field(std::string_view name, std::string_view value) noexcept {
    bytes += name.size() + 2 + value.size() + 2;
  }
};

}  // namespace

size_t write_trace_response(const RequestHead& request, std::span<char> out) noexcept {
  CountingWriter counter;
  put_reflected_request(request, counter);
  SpanWriter writer(out);
  writer.put("HTTP/1.1 200 OK\r\nContent-Type: message/http\r\nContent-Length: ");
  writer.put_decimal(counter.bytes);
  writer.put("\r\nConnection: close\r\n\r\n");
  put_reflected_request(request, writer);
  return writer.finish();
}

}  // namespace ballast::http
