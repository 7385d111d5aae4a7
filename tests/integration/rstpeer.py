"""rstpeer - one connection that ends in a reset, in one network namespace.

  rstpeer.py unread PORT   the server closes its accepted socket with data
                           unread (the kernel resets: TCP_ABORT_ON_CLOSE)
  rstpeer.py linger0 PORT  the client closes with SO_LINGER 0
  rstpeer.py closed PORT   the client connects to a port nobody listens on

Prints "client LPORT" once its connection is made (or refused), and every
wait polls the kernel's state (ss), never a fixed sleep.
"""

import socket
import struct
import subprocess
import sys
import time


def wait_for(what, cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            sys.exit(f"timeout waiting for {what}")
        time.sleep(0.01)


def unread_bytes(port):
    """Recv-Q of the server side of port's connection, from ss."""
    out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]) if out else 0


def pair(port):
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", port))
    lst.listen(8)
    cli = socket.create_connection(("127.0.0.1", port))
    srv, _ = lst.accept()
    print("client", cli.getsockname()[1], flush=True)
    return lst, cli, srv


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "unread":
        lst, cli, srv = pair(port)
        cli.sendall(b"x" * 100)
        wait_for("the data to sit unread", lambda: unread_bytes(port) == 100)
        srv.close()  # unread data: the kernel resets the connection
        try:
            cli.recv(1)
        except ConnectionResetError:
            pass
        cli.close()
        lst.close()
    elif mode == "linger0":
        lst, cli, srv = pair(port)
        cli.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        cli.close()
        try:
            srv.recv(1)
        except ConnectionResetError:
            pass
        srv.close()
        lst.close()
    elif mode == "closed":
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", port))
            sys.exit("connected to a closed port")
        except ConnectionRefusedError:
            print("client", s.getsockname()[1], flush=True)
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
