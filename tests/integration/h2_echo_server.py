"""An HTTP/2 server in clear (h2c, prior knowledge) for ballast's integration tests, on Debian's
python3-h2: each request is answered, once it has ended, with

    :status 200, x-server: NAME, x-seen-te: the request's te, x-seen-authority
    the request's body (or "NAME:PATH" when it had none), in DATA frames as the window allows
    trailers: x-server: NAME, and x-echo-FIELD: VALUE for each of the request's trailers

    h2_echo_server.py --port P --name NAME
"""

import argparse
import socket
import threading

import h2.config
import h2.connection
import h2.events
import h2.exceptions


def serve(sock, name):
    config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    requests = {}
    pending = {}  # stream -> body bytes still to send, and the trailers that end it
    while True:
        data = sock.recv(65536)
        if not data:
            return
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                requests[event.stream_id] = {"headers": dict(event.headers), "body": b"",
                                             "trailers": []}
            elif isinstance(event, h2.events.DataReceived):
                requests[event.stream_id]["body"] += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.TrailersReceived):
                requests[event.stream_id]["trailers"] = list(event.headers)
            elif isinstance(event, h2.events.StreamEnded):
                request = requests.pop(event.stream_id)
                headers = request["headers"]
                conn.send_headers(event.stream_id, [
                    (":status", "200"), ("x-server", name),
                    ("x-seen-te", headers.get("te", "")),
                    ("x-seen-authority", headers.get(":authority", "")),
                ])
                body = request["body"] or f"{name}:{headers[':path']}".encode()
                trailers = [("x-server", name)] + [
                    (f"x-echo-{field}", value) for field, value in request["trailers"]]
                pending[event.stream_id] = [body, trailers]
            elif isinstance(event, h2.events.StreamReset):
                pending.pop(event.stream_id, None)
        send_pending(conn, pending)
        sock.sendall(conn.data_to_send())


def send_pending(conn, pending):
    for stream_id, (body, trailers) in list(pending.items()):
        window = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
        while body and window > 0:
            conn.send_data(stream_id, body[:window])
            body = body[window:]
            window = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
        if body:
            pending[stream_id][0] = body
        else:
            conn.send_headers(stream_id, trailers, end_stream=True)
            del pending[stream_id]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    listener = socket.create_server(("127.0.0.1", args.port))
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=serve_quietly, args=(sock, args.name), daemon=True).start()


def serve_quietly(sock, name):
    try:
        serve(sock, name)
    except (OSError, h2.exceptions.H2Error):
        pass
    finally:
        sock.close()


if __name__ == "__main__":
    main()
