"""A gRPC server for ballast's integration tests, on Debian's python3-grpcio, with raw-bytes
methods (generic handlers, no generated code) of the service ballast.test.Echo:

    Say      unary: answers "NAME:REQUEST"; its trailing metadata says what the call carried
             (x-seen-forwarded-for, x-seen-peer: the connection it came on)
    Count    server-streaming: the request "N,MS" gets N messages "NAME:i", MS ms apart
    Fail     unary: ends with the status named by the request (UNAVAILABLE, NOT_FOUND, ...)
    Hold     unary: answers after the request's number of ms
    Join     client-streaming: answers "NAME:" and the messages received, joined by ","
    Chat     bidirectional: answers each message with "NAME:MESSAGE" as it comes

    grpc_echo_server.py --port P --name NAME [--cert FILE --key FILE]

With --cert and --key the server speaks TLS (ALPN h2, as gRPC does).
"""

import argparse
import time
from concurrent import futures

import grpc


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    name = args.name.encode()

    def say(request, context):
        metadata = dict(context.invocation_metadata())
        context.set_trailing_metadata((
            ("x-seen-forwarded-for", metadata.get("x-forwarded-for", "")),
            ("x-seen-peer", context.peer()),
        ))
        return name + b":" + request

    def count(request, context):
        total, pause_ms = (int(x) for x in request.decode().split(","))
        for i in range(total):
            if i and pause_ms:
                time.sleep(pause_ms / 1000)
            yield name + b":" + str(i).encode()

    def fail(request, context):
        context.abort(getattr(grpc.StatusCode, request.decode()), "asked to fail")

    def hold(request, context):
        time.sleep(int(request.decode()) / 1000)
        return name + b":" + context.peer().encode()

    def join(requests, context):
        return name + b":" + b",".join(requests)

    def chat(requests, context):
        for request in requests:
            yield name + b":" + request

    handler = grpc.method_handlers_generic_handler("ballast.test.Echo", {
        "Say": grpc.unary_unary_rpc_method_handler(say),
        "Count": grpc.unary_stream_rpc_method_handler(count),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Hold": grpc.unary_unary_rpc_method_handler(hold),
        "Join": grpc.stream_unary_rpc_method_handler(join),
        "Chat": grpc.stream_stream_rpc_method_handler(chat),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    server.add_generic_rpc_handlers((handler,))
    address = f"127.0.0.1:{args.port}"
    if args.cert:
        with open(args.cert, "rb") as cert, open(args.key, "rb") as key:
            credentials = grpc.ssl_server_credentials(((key.read(), cert.read()),))
        server.add_secure_port(address, credentials)
    else:
        server.add_insecure_port(address)
    server.start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
