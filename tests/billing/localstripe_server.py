"""Runs localstripe (PyPI) for a test: on 127.0.0.1, a free port printed on the first line of stdout, and a
store that lives in memory only (localstripe would otherwise load and save /tmp/localstripe.pickle, shared
by every instance on the machine)."""

import socket
import sys

from aiohttp import web
from localstripe import resources, server

resources.Store.dump_to_disk = lambda self: None
resources.Store.try_load_from_disk = lambda self: None

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
web.run_app(server.app, sock=sock, print=None, access_log=None)
