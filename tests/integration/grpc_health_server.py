"""A gRPC server for ballast's integration tests, on Debian's python3-grpcio: the standard health
service (grpc.health.v1.Health/Check) written with a generic handler — raw protobuf bytes, so no
generated code — and each service's answer read from a file the test rewrites:

    grpc_health_server.py --port P --state FILE

FILE holds one `service=STATUS` per line (STATUS: SERVING, NOT_SERVING, UNKNOWN); the service ""
is written `=SERVING`. A service not in the file gets NOT_FOUND, as the standard service answers.
"""

import argparse
import time
from concurrent import futures

import grpc

STATUSES = {"UNKNOWN": 0, "SERVING": 1, "NOT_SERVING": 2}


def service_of(request):
    """HealthCheckRequest is `string service = 1`: tag 0x0a, a varint length, the bytes."""
    if not request:
        return ""
    assert request[0] == 0x0A, request
    length, shift, at = 0, 0, 1
    while True:
        byte = request[at]
        length |= (byte & 0x7F) << shift
        at += 1
        shift += 7
        if byte < 0x80:
            break
    return request[at : at + length].decode()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", required=True)
    args = parser.parse_args()

    def check(request, context):
        states = {}
        with open(args.state) as lines:
            for line in lines:
                name, _, status = line.strip().partition("=")
                states[name] = status
        service = service_of(request)
        if service not in states:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        return bytes([0x08, STATUSES[states[service]]])

    handler = grpc.method_handlers_generic_handler(
        "grpc.health.v1.Health", {"Check": grpc.unary_unary_rpc_method_handler(check)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
