"""Runs ballast-load (bench/load) and reads its summary lines.

ballast-load prints `total key=value ...` and one `window NAME key=value ...` per window; this
turns them into dicts of floats: {"total": {...}, "windows": {NAME: {...}}}.
"""

import subprocess


def parse(output):
    result = {"total": None, "windows": {}}
    for line in output.splitlines():
        words = line.split()
        if not words or words[0] not in ("total", "window"):
            continue
        if words[0] == "window":
            name, pairs = words[1], words[2:]
        else:
            name, pairs = None, words[1:]
        values = {key: float(value) for key, value in (pair.split("=", 1) for pair in pairs)}
        if name is None:
            result["total"] = values
        else:
            result["windows"][name] = values
    if result["total"] is None:
        raise RuntimeError(f"ballast-load printed no summary:\n{output}")
    return result


class Load:
    """One ballast-load run against a port, started in the background."""

    def __init__(self, binary, port, connections, timeline, requests=None, duration=None,
                 windows=()):
        argv = [binary, "--port", str(port), "--connections", str(connections),
                "--timeline", timeline]
        argv += ["--requests", str(requests)] if requests else ["--duration", str(duration)]
        for name, start, end in windows:
            argv += ["--window", f"{name}:{start}:{end}"]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)

    def result(self):
        out, err = self.process.communicate()
        if self.process.returncode != 0:
            raise RuntimeError(f"ballast-load failed ({self.process.returncode}): {err}")
        return parse(out)
