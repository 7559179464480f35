"""The tool's --log-format json lines as (Unix time, message) pairs."""
import datetime
import json


def messages(path):
    for line in open(path):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        yield datetime.datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp(), r.get("msg", "")
