# Runs Arize Phoenix for the tests and reads spans back with Phoenix's own client.
# argv: base URL. Starts `python -m phoenix.server.main serve` (configured by the PHOENIX_*
# environment), then answers one JSON request per stdin line with one JSON line on stdout:
#   {"project": "name", "limit": 1000} -> {"spans": [...]} or {"error": "..."}
# When stdin closes (the test process ended or dropped its handle), Phoenix is stopped and
# its working directory removed.
import json
import os
import shutil
import subprocess
import sys

server = subprocess.Popen(
    [sys.executable, "-m", "phoenix.server.main", "serve"],
    stdin=subprocess.DEVNULL,
    stdout=sys.stderr,
    stderr=sys.stderr,
)
try:
    from phoenix.client import Client

    client = Client(base_url=sys.argv[1])
    print(json.dumps({"client": "ready"}), flush=True)
    for line in sys.stdin:
        try:
            request = json.loads(line)
            spans = client.spans.get_spans(
                project_identifier=request["project"], limit=int(request.get("limit", 1000))
            )
            answer = {"spans": spans}
        except Exception as error:  # noqa: BLE001 - reported to the test as is
            answer = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(answer, default=str), flush=True)
finally:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
    # The working directory (database, log) goes with the server.
    shutil.rmtree(os.environ.get("PHOENIX_WORKING_DIR", ""), ignore_errors=True)
