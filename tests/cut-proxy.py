#!/usr/bin/env python3
"""cut-proxy.py - a TCP proxy on loopback that cuts the connection.

    cut-proxy.py LISTEN_PORT_FILE TARGET_PORT CUT_BYTES

Listens on a free loopback port (written to LISTEN_PORT_FILE), forwards
each connection to 127.0.0.1:TARGET_PORT, and closes both ends once
CUT_BYTES bytes have gone from the server to the client (0: never).  The
first connection is cut, later ones are passed through whole: a real
server whose connection breaks in the middle of a session, once.
"""
import os
import selectors
import socket
import sys


def serve(conn, target, cut):
    up = socket.create_connection(("127.0.0.1", target))
    sel = selectors.DefaultSelector()
    sel.register(conn, selectors.EVENT_READ, up)
    sel.register(up, selectors.EVENT_READ, conn)
    sent = 0
    try:
        while True:
            for key, _ in sel.select():
                data = key.fileobj.recv(65536)
                if not data:
                    return
                if key.fileobj is up and cut > 0:
                    if sent + len(data) >= cut:
                        key.data.sendall(data[: cut - sent])
                        return
                    sent += len(data)
                key.data.sendall(data)
    except OSError:
        return
    finally:
        up.close()
        conn.close()


def main():
    port_file, target, cut = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % lsock.getsockname()[1])
    os.rename(tmp, port_file)
    first = True
    while True:
        conn, _ = lsock.accept()
        serve(conn, target, cut if first else 0)
        first = False


if __name__ == "__main__":
    main()
