#include "http/error_response.h"

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

}  // namespace ballast::http
