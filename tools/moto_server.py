"""Start moto's server on a free loopback port, with AWS managed policies loaded.

Prints the port on the first line of stdout, then serves until
  * stdin reaches end of file (the default: the parent process closed the pipe or died), or
  * with --until-signal, SIGTERM/SIGINT arrives (for scripts that start it in the background).
Either way exactly this process stops; nothing is left listening.
"""

import argparse
import os
import signal
import sys
import threading

os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

from moto.moto_server.threaded_moto_server import ThreadedMotoServer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--until-signal", action="store_true")
    parser.add_argument("--port-file", help="also write the port to this file")
    args = parser.parse_args()

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server.get_host_and_port()[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        os.replace(args.port_file + ".tmp", args.port_file)
    print(port, flush=True)

    stop = threading.Event()
    if args.until_signal:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    else:
        threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
