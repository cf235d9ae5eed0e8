"""A port `local up` picked that something else took before the daemon bound it (another sandbox
starting beside this one) is replaced, and the new one kept where the CLI reads the sandbox's URLs."""

from __future__ import annotations

import socket
from pathlib import Path

from path2prod.sandbox.daemon import serve_on_its_port
from path2prod.sandbox.home import SandboxHome
from path2prod.sandbox.http_front import serve_control


def test_a_control_port_taken_since_local_up_is_replaced_and_kept_in_sandbox_json(tmp_path: Path) -> None:
    # GIVEN a sandbox's config, and its control port taken by someone else meanwhile
    home = SandboxHome(tmp_path)
    config = home.create_config()
    picked = config.control_port
    taken = socket.socket()
    taken.bind(("127.0.0.1", picked))
    taken.listen()
    try:
        # WHEN the daemon binds its control API
        server = serve_on_its_port(home, config, "control_port", lambda port: serve_control(port, dict, dict))

        # THEN it serves on another port, which sandbox.json now names
        assert server.server_address[1] != picked
        assert home.load_config().control_port == server.server_address[1]
        server.shutdown()
        server.server_close()
    finally:
        taken.close()
